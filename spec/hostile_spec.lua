-- green used as a hostile user would: errors in odd places, bad arguments,
-- values that fight back. Each case once crashed, leaked or hung.
local green = require "green"
local process = require "spec.support.process"

local function raising_tostring(message)
  return setmetatable({}, {__tostring = function() error(message) end})
end

-- Collect what the on_error handler is given while fn runs, and let the
-- handlers (each in a greenlet of its own) run before returning.
local function with_reports(fn)
  local reports = {}
  local previous = green.on_error(function(g, err)
    reports[#reports + 1] = {g = g, err = err}
  end)
  local ok, err = pcall(fn)
  green.sleep(0)
  green.on_error(previous)
  assert(ok, err)
  return reports
end

-- Run a Lua chunk as a script of its own under lua5.4; its output and code.
local function run_script(source)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  local out, code = process.run(string.format(
    "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;' lua5.4 %s",
    process.build, path))
  os.remove(path)
  return out, code
end

describe("an error whose __tostring raises", function()
  it("stays inside its greenlet when nobody handles it", function()
    local out, code = run_script([[
      local green = require "green"
      local g = green.spawn(function()
        error(setmetatable({}, {__tostring = function() error("x") end}))
      end)
      assert(pcall(green.sleep, 0.01), "the error escaped into main")
      assert(green.getcurrent().name == "main")
      assert(green.stats().alive == 0)
      assert(g:dead() and not g:successful())
      print("survived")
    ]])
    assert.equals(0, code, out)
    assert.matches("survived", out)
    assert.matches("unhandled error in Greenlet #%d+ %(failed%): %(a table " ..
      "value whose __tostring failed%)", out)
  end)

  it("stays inside the on_error handler that raises it", function()
    local previous = green.on_error(function() error(raising_tostring("y")) end)
    local g = green.spawn(error, "first")
    local ok = pcall(g.join, g)
    green.sleep(0)
    green.on_error(previous)
    assert.is_true(ok)
    assert.equals("main", green.getcurrent().name)
    assert.equals(0, green.stats().alive)
  end)

  it("reaches the handler as it was raised", function()
    local bad = raising_tostring("z")
    local reports = with_reports(function()
      green.spawn(error, bad):join()
    end)
    assert.equals(1, #reports)
    assert.equals(bad, reports[1].err)
  end)
end)

describe("the on_error handler", function()
  it("runs once its greenlet is dead: joins return and kills do nothing", function()
    local release = green.Event()
    local handled = false
    local previous = green.on_error(function()
      release:wait()
      handled = true
    end)
    local failing = green.spawn(function() green.sleep(0); error("boom") end)
    local early = green.spawn(function() return failing:join(5) end)
    assert.is_true(early:get())        -- begun before the failure
    assert.is_true(failing:join(0))    -- begun after it
    assert.is_false(handled)
    assert.is_true(failing:dead())
    failing:kill()
    assert.is_false(failing:successful())
    assert.matches("boom", failing.exception)
    release:set()
    green.sleep(0)
    green.on_error(previous)
    assert.is_true(handled)
  end)
end)

describe("Timeouts", function()
  it("made without an error are collected", function()
    local weak = setmetatable({}, {__mode = "k"})
    for _ = 1, 10 do weak[green.Timeout(1)] = true end
    for _ = 1, 10 do
      local t = green.Timeout.start_new(1)
      t:cancel()
      weak[t] = true
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(weak))
  end)

  it("from with_timeout leave no memory behind", function()
    for _ = 1, 1000 do green.with_timeout(1, function() end) end
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    for _ = 1, 20000 do
      green.with_timeout(1, function() end)
      green.with_timeout_value(1, "late", function() end)
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(collectgarbage("count") - before < 64,
      "kept " .. (collectgarbage("count") - before) .. " KiB")
  end)

  it("without an error raise themselves", function()
    local t = green.Timeout(0.001)
    t:start()
    local ok, err = pcall(green.sleep, 1)
    assert.is_false(ok)
    assert.equals(t, err)
  end)
end)

describe("PriorityQueue", function()
  it("with only a size orders its items by <", function()
    local q = green.PriorityQueue(10)
    q:put(3)
    q:put(1)
    q:put(2)
    assert.same({1, 2, 3}, {q:get(), q:get(), q:get()})
  end)
end)

describe("green on a worker thread of a ThreadPool", function()
  it("refuses what needs a hub with one clear error", function()
    local try = green.cpu_bound(function()
      local g = require "green"
      local calls = {
        function() return tostring(g.getcurrent()) end,
        g.run_info, g.stats, g.getswitchinterval,
        function() return g.setswitchinterval(1) end,
        function() return g.Semaphore(1) end,
        function() return g.Queue(5) end,
        function() return g.PriorityQueue(5) end,
        function() return g.Timeout(1) end,
        function() return g.Timeout.start_new(1) end,
        function() return g.with_timeout(1, print) end,
        function() return g.spawn(print) end,
        function() return g.Pool(2) end,
        function() return g.on_error(print) end,
      }
      local answers = {}
      for i, call in ipairs(calls) do
        local ok, err = pcall(call)
        answers[i] = ok and "ran" or err
      end
      return answers, g.now(), g.on_worker()
    end)
    local answers, now, on_worker = try()
    assert.equals(14, #answers)
    for _, answer in ipairs(answers) do
      assert.matches("green%.[%w_.]+ cannot be used on a worker thread of a " ..
        "ThreadPool", answer)
    end
    assert.is_true(math.abs(now - green.now()) < 60)
    assert.is_true(on_worker)
  end)

  it("lets no function of green crash it", function()
    local names = {}
    for name, value in pairs(green) do
      if type(value) == "function" then names[#names + 1] = name end
    end
    local sweep = green.cpu_bound(function(list)
      local g = require "green"
      local survived = 0
      for _, name in ipairs(list) do
        for _, args in ipairs({{}, {1}, {"x", 2}, {{}, {}}}) do
          pcall(g[name], table.unpack(args))
        end
        survived = survived + 1
      end
      return survived
    end)
    assert.equals(#names, sweep(names))
  end)
end)

-- Recursions through Lua's most stack-hungry C functions, each to Lua's
-- C-call limit: inside a greenlet, Lua's own error must come first.
local recursions = [[
  local cases = {}
  function cases.gsub()
    local function f() return (string.gsub("x", "x", f)) end
    return f()
  end
  function cases.gsub_in_handler()   -- a message handler may go 10% deeper
    local function f() return (string.gsub("x", "x", f)) end
    local _, err = xpcall(f, f)
    error(err, 0)
  end
  function cases.gmatch_gsub()
    local function f() for w in string.gmatch("a", "a") do string.gsub(w, "a", f) end end
    return f()
  end
  function cases.format()
    local mt = {}
    mt.__tostring = function() return string.format("%s", setmetatable({}, mt)) end
    return string.format("%s", setmetatable({}, mt))
  end
  function cases.format_gsub()
    local mt = {}
    local function f()
      return (string.gsub("x", "x", function() return string.format("%s", setmetatable({}, mt)) end))
    end
    mt.__tostring = f
    return f()
  end
  function cases.tostring()
    local mt = {}
    mt.__tostring = function() return tostring(setmetatable({}, mt)) end
    return tostring(setmetatable({}, mt))
  end
  function cases.concat_index()
    local mt = {}
    mt.__index = function() return table.concat(setmetatable({}, mt), "", 1, 1) end
    return table.concat(setmetatable({}, mt), "", 1, 1)
  end
  function cases.sort()
    local function f() table.sort({3, 2, 1}, function(a, b) f(); return a < b end) end
    return f()
  end
  function cases.load_reader()
    local function f() local fn, err = load(function() f() end); error(err, 0) end
    return f()
  end
  function cases.pcall()
    local function f() local ok, e = pcall(f); error(e, 0) end
    return f()
  end
  function cases.metamethods()
    local mt = {}
    mt.__index = function(t, k) return setmetatable({}, mt)[k] end
    return setmetatable({}, mt).x
  end
  function cases.coroutines()
    local function f() return coroutine.wrap(f)() end
    return f()
  end
  function cases.require()
    package.preload.again = function() package.loaded.again = nil; return require "again" end
    return require "again"
  end
]]

describe("the default stack of a Lua greenlet", function()
  it("holds every C recursion Lua allows, so Lua's own error comes first", function()
    local out, code = run_script(recursions .. [[
      local green = require "green"
      local names = {}
      for name in pairs(cases) do names[#names + 1] = name end
      table.sort(names)
      for _, name in ipairs(names) do
        local g = green.spawn(pcall, cases[name])
        local ok, err = g:get()
        assert(not ok, name .. " did not fail")
        io.write(name, ": ", (tostring(err):match("stack overflow") or
                              tostring(err):match("error in error handling") or
                              tostring(err)), "\n")
      end
      print("all " .. #names)
    ]])
    assert.equals(0, code, out)
    assert.matches("all 13", out)
    for line in out:gmatch("[^\n]+") do
      if line:match("^%w+: ") then
        assert.matches("^%w+: [%w ]+$", line)
        assert.is_truthy(line:match("stack overflow") or line:match("error in error handling"), line)
      end
    end
  end)

  it("holds them on an arena stack too, past the guarded stacks", function()
    local out, code = run_script(recursions .. [[
      local green = require "green"
      local idle = {}
      for i = 1, 16400 do idle[i] = green.spawn(green.sleep, 60) end
      green.sleep(0)
      assert(green.stats().stacks_in_arenas > 0, "no arena stack yet")
      local g = green.spawn(pcall, cases.gsub)
      local ok, err = g:get()
      green.killall(idle)
      print(ok, err)
    ]])
    assert.equals(0, code, out)
    assert.matches("false\t.*C stack overflow", out)
  end)
end)

describe("what a call starts on its caller's behalf", function()
  local function alive() return green.stats().alive end

  it("ends when a green.wait caller is killed or timed out", function()
    local base = alive()
    local ev, sleeper = green.Event(), green.spawn(green.sleep, 60)
    local waiters = {}
    for i = 1, 200 do
      waiters[i] = green.spawn(green.wait, {ev, sleeper, green.Queue()})
    end
    green.sleep(0)
    green.killall(waiters)
    local timed_out = green.spawn(function()
      return green.with_timeout_value(0.01, "late", green.wait, {ev, sleeper})
    end)
    assert.equals("late", timed_out:get())
    green.sleep(0)
    assert.equals(base + 1, alive())          -- the sleeper alone
    sleeper:kill()
    assert.equals(base, alive())
  end)

  it("ends when an iwait loop is left with break or by an error", function()
    local base = alive()
    local ev, sleeper = green.Event(), green.spawn(green.sleep, 60)
    local quick = green.spawn(function() end)
    for _ = 1, 100 do
      for g in green.iwait({quick, ev, sleeper}) do
        assert.equals(quick, g)
        break
      end
      pcall(function()
        for _ in green.iwait({quick, ev, sleeper}) do error("left") end
      end)
    end
    green.sleep(0)
    assert.equals(base + 1, alive())
    sleeper:kill()
  end)

  it("ends when the caller of staggered_retries is killed", function()
    local running = 0
    local function slow()
      running = running + 1
      local _ <close> = setmetatable({}, {__close = function() running = running - 1 end})
      green.sleep(60)
    end
    local caller = green.spawn(green.staggered_retries, slow, {timeouts = {0, 0, 60}})
    green.sleep(0.01)
    assert.equals(3, running)
    caller:kill()
    green.sleep(0)
    assert.equals(0, running)
  end)
end)

describe("bad arguments", function()
  local function message(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return err
  end

  it("get Lua's standard message, the same for the same input", function()
    local ev = green.Event()
    assert.matches("bad argument #2 to 'wait' %(number expected, got string%)",
      message(green.wait, {ev}, "x"))
    assert.matches("bad argument #2 to 'wait' %(must not be negative%)",
      message(green.wait, {ev}, -1))
    assert.matches("bad argument #2 to 'iwait' %(must not be NaN%)",
      message(green.iwait, {ev}, 0 / 0))
    assert.matches("bad argument #1 to 'wait' %(must not be negative%)",
      message(function() return ev:wait(-1) end))
    assert.matches("bad argument #1 to 'joinall' %(item 1 is a number",
      message(green.joinall, {1, 2}))
    assert.matches("bad argument #1 to 'killall' %(table expected, got number%)",
      message(green.killall, 5))
    assert.matches("bad argument #1 to 'green.sleep' %(must not be NaN%)",
      message(green.sleep, 0 / 0))
    assert.matches("bad argument #1 to 'green.spawn_later' %(must not be negative%)",
      message(green.spawn_later, -1, print))
    assert.matches("bad argument #1 to 'green.kill' %(Greenlet expected, got number%)",
      message(green.kill, 5))
    assert.matches("bad argument #2 to 'kill' %(field 'timeout' must be a number",
      message(function() green.spawn(print):kill(nil, {timeout = 0 / 0}) end))
    assert.matches("bad argument #1 to 'Timeout' %(must be a finite number",
      message(green.Timeout, 0 / 0))
    assert.matches("bad argument #1 to 'green.Channel' %(a Channel has no buffer",
      message(green.Channel, 5))
    assert.matches("^[^:]+:%d+: bad argument #1 to 'Pool' %(positive integer " ..
      "expected, got string%)", message(function() local p = green.Pool("x"); return p end))
  end)

  it("to a Pool's map functions raise at the call, and only there", function()
    local reports = with_reports(function()
      local pool = green.Pool(2)
      for _, name in ipairs({"map", "imap", "imap_unordered"}) do
        assert.matches("bad argument #1 to '" .. name .. "' %(function expected, got nil%)",
          message(pool[name], pool, nil, {1}))
        assert.matches("bad argument #2 to '" .. name .. "' %(table expected, got nil%)",
          message(pool[name], pool, print, nil))
      end
      assert.matches("bad argument #1 to 'apply' %(function expected, got number%)",
        message(pool.apply, pool, 5))
    end)
    assert.equals(0, #reports)
  end)

  it("to the codec: what encodes, decodes", function()
    local core = require "green.core"
    for depth = 190, 205 do
      local t = 1
      for _ = 1, depth do t = {t} end
      local ok, bytes = pcall(core._codec_encode, t)
      if ok then
        assert.is_true(pcall(core._codec_decode, bytes), depth .. " deep")
      else
        assert.matches("nested too deeply", bytes)
      end
    end
  end)
end)

describe("ThreadPool:close", function()
  it("waits for a running task while other greenlets run", function()
    local path = os.tmpname()
    os.remove(path)
    local pool = green.threadpool(1)
    -- The task runs until the main greenlet creates the file, which it can
    -- do only if close lets it run.
    local task = green.spawn(function()
      return pool:run(function(p)
        io.open(p .. ".started", "w"):close()
        local t0 = os.time()
        while os.time() - t0 < 30 do
          local f = io.open(p)
          if f then f:close(); return true end
        end
        return false
      end, path)
    end)
    for _ = 1, 30000 do
      local f = io.open(path .. ".started")
      if f then f:close(); break end
      green.sleep(0.001)
    end
    local closer = green.spawn(function() pool:close() end)
    green.sleep(0)
    assert.is_false(closer:dead())
    io.open(path, "w"):close()
    assert.is_true(task:get())
    assert.is_true(closer:join(30))
    assert.is_true(closer:successful())
    os.remove(path)
    os.remove(path .. ".started")
  end)
end)

describe("a kill and a Timeout due at the same time", function()
  -- Make both due before the target runs again: the main greenlet spins
  -- past the Timeout's deadline without letting the hub run, then kills.
  -- The Timeouts are long enough that even under valgrind none fires
  -- before its greenlet waits.
  local function both_due(target, seconds)
    green.sleep(0)
    assert.equals("blocked", tostring(target):match("%((%a+)%)"))
    local t0 = green.now()
    while green.now() - t0 < seconds * 2 do end
    target:kill(nil, {block = false})
  end

  it("the kill wins, and with_timeout_value does not swallow it", function()
    local g = green.spawn(function()
      return green.with_timeout_value(0.2, "timed out", green.sleep, 1)
    end)
    both_due(g, 0.2)
    assert.equals(green.GreenletExit, g:get())
  end)

  it("the kill wins when the Timeout fired first, and the Timeout comes next", function()
    local t
    local g = green.spawn(function()
      t = green.Timeout.start_new(0.2)
      local ok, err = pcall(green.sleep, 1)
      assert(not ok and err == green.GreenletExit, tostring(err))
      return pcall(green.sleep, 1)
    end)
    green.sleep(0)
    assert.equals("blocked", tostring(g):match("%((%a+)%)"))
    local t0 = green.now()
    while green.now() - t0 < 0.4 do end
    green.sleep(0)                 -- the hub fires the Timeout; g waits to run
    assert.equals("ready", tostring(g):match("%((%a+)%)"))
    g:kill(nil, {block = false})
    local ok2, err2 = g:get()
    assert.is_false(ok2)
    assert.equals(t, err2)
  end)

  it("a target that catches the kill and blocks again gets the Timeout", function()
    local t
    local g = green.spawn(function()
      t = green.Timeout.start_new(0.2)
      local ok, err = pcall(green.sleep, 1)
      assert(not ok and err == green.GreenletExit, tostring(err))
      local ok2, err2 = pcall(green.sleep, 1)
      return ok2, err2
    end)
    both_due(g, 0.2)
    local ok2, err2 = g:get()
    assert.is_false(ok2)
    assert.equals(t, err2)
  end)
end)

describe("memory after a burst", function()
  it("goes back, beyond the pools' limits, once the burst has ended", function()
    local out, code = run_script([[
      local green = require "green"
      local function rss_mib()
        local f = assert(io.open("/proc/self/statm"))
        local _, resident = f:read("n", "n")
        f:close()
        return resident * 4 / 1024
      end
      local before = rss_mib()
      local gs = {}
      for i = 1, 40000 do gs[i] = green.spawn(green.sleep, 60) end
      green.sleep(0)
      local peak = rss_mib()
      local st = green.stats()
      assert(st.stacks_in_arenas > 0, "no arena stacks in the burst")
      green.killall(gs)
      gs = nil
      collectgarbage()
      collectgarbage()
      green.sleep(0.01)                  -- the hub idles once
      st = green.stats()
      print(string.format("before %.0f peak %.0f after %.0f arenas %d pooled %d",
        before, peak, rss_mib(), st.stacks_in_arenas, st.stacks_pooled))
      -- The pool keeps 1024, and an arena is freed once all its 64 are.
      assert(st.stacks_pooled <= 1024 + 63, "pooled past the limit")
      assert(st.stacks_in_arenas <= 1024, "arenas kept past the limit")
      -- Under make asan, ASan's allocator keeps freed memory in its
      -- quarantine: what glibc gives back is not to be seen there.
      if not os.getenv("ASAN_OPTIONS") then
        assert(rss_mib() < before + (peak - before) / 4, "memory kept")
      end
    ]])
    assert.equals(0, code, out)
  end)
end)

describe("a greenlet's Lua thread kept past its end", function()
  local function kept_thread()
    local g = green.spawn(function() return coroutine.running() end)
    return (g:get())
  end

  it("cannot be resumed as a coroutine: the resume fails clearly", function()
    local co = kept_thread()
    local ran = false
    local b = green.spawn(function() ran = true end)   -- may reuse co
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.matches("cannot resume", err)
    local reports = with_reports(function() b:join() end)
    assert.is_false(ran)
    assert.is_false(b:successful())
    assert.matches("resumed or closed as a coroutine", b.exception)
    assert.equals(1, #reports)
    -- the thread serves the next greenlets as before
    assert.equals(42, green.spawn(function() return 42 end):get())
  end)

  it("closed as a coroutine fails the greenlet that would reuse it", function()
    local co = kept_thread()
    local b = green.spawn(function() return "ran" end)
    coroutine.close(co)
    with_reports(function() b:join() end)
    assert.is_false(b:successful())
    assert.matches("resumed or closed as a coroutine", b.exception)
    assert.equals(42, green.spawn(function() return 42 end):get())
  end)
end)

describe("a Pool's imap left early", function()
  for _, name in ipairs({"imap", "imap_unordered"}) do
    it(name .. " stops its feeder and the members it started", function()
      local base = green.stats().alive
      local pool = green.Pool(2)
      local started = 0
      local function item(x)
        started = started + 1
        if x > 1 then green.sleep(60) end
        return x
      end
      for _ in pool[name](pool, item, {1, 2, 3, 4, 5, 6}) do break end
      green.idle()                    -- until nothing is left to run
      assert.equals(0, #pool)
      assert.equals(base, green.stats().alive)
      local seen = started
      green.sleep(0.01)
      assert.equals(seen, started)
    end)
  end
end)

describe("Greenlet:rawlink", function()
  it("calls back as the greenlet ends, on it, before its joiners return", function()
    local seen = {}
    local g = green.spawn(function() green.sleep(0); return 7 end)
    g:rawlink(function(dead)
      seen[#seen + 1] = {dead == g, dead:dead(), dead.value, green.getcurrent() == g}
    end)
    local quiet = function() seen.unlinked = true end
    g:rawlink(quiet)
    g:unlink(quiet)
    assert.is_true(g:join(5))
    assert.same({{true, true, 7, true}}, {seen[1]})
    assert.is_nil(seen.unlinked)
    local late = false
    g:rawlink(function() late = true end)          -- already dead: at once
    assert.is_true(late)
  end)

  it("reports a failing callback and stops nothing", function()
    local ran = false
    local g = green.spawn(function() end)
    g:rawlink(function() error("broken callback") end)
    g:rawlink(function() ran = true end)
    assert.is_true(g:join(5))
    assert.is_true(ran)
    assert.is_true(g:successful())
  end)

  it("lets joinall wait on many greenlets without a greenlet per death", function()
    local gs = {}
    for i = 1, 200 do gs[i] = green.spawn(green.sleep, 0.001 * (i % 3)) end
    local before = green.stats().spawned
    assert.equals(200, #green.joinall(gs, {timeout = 10}))
    assert.equals(before, green.stats().spawned)
  end)
end)

describe("every function and method of green", function()
  -- In a process of its own: the sweep also sets what is global to the
  -- hub (the switch interval, the on_error handler) to odd values.
  it("survives odd arguments: nothing crashes, nothing stays alive", function()
    local out, code = run_script([[
      local green = require "green"
      local quiet = function() end
      local shapes = {
        {}, {nil}, {1}, {-1}, {0 / 0}, {math.huge}, {"x"}, {{}}, {quiet}, {true},
        {setmetatable({}, {__tostring = function() error("t") end})},
        {setmetatable({}, {__index = function() error("i") end})},
        {io.stdout}, {coroutine.create(quiet)}, {1, 2, 3}, {{}, {}, {}},
        {quiet, {1, 2}}, {{1, 2}, quiet}, {green.Event()}, {green.Queue()},
      }
      local base, calls = green.stats().alive, 0
      local function try(f, ...)
        local n, args = select("#", ...), {...}
        for _, shape in ipairs(shapes) do
          local all = table.move(shape, 1, 3, n + 1, table.move(args, 1, n, 1, {}))
          local g = green.spawn(function() return pcall(f, table.unpack(all, 1, n + 3)) end)
          green.sleep(0)
          if not g:dead() then g:kill(nil, {timeout = 1}) end
          calls = calls + 1
        end
      end
      green.on_error(quiet)
      local skip = {run = true, idle = true, on_error = true}
      for name, f in pairs(green) do
        if type(f) == "function" and not skip[name] then try(f) end
      end
      local objects = {green.Event(), green.Queue(2), green.Semaphore(1), green.Lock(),
        green.AsyncResult(), green.Pool(2), green.Group(), green.spawn(quiet),
        green.Timeout(1), green.Channel(), green.PriorityQueue(), green.DeferredQueue()}
      for _, o in ipairs(objects) do
        local index = getmetatable(o).__index
        for name, f in pairs(type(index) == "table" and index or {}) do
          if type(f) == "function" and name ~= "__gc" then try(f, o) end
        end
      end
      green.setswitchinterval(0.005)
      green.idle()
      print("calls " .. calls .. " left " .. (green.stats().alive - base))
    ]])
    assert.equals(0, code, out)
    local calls, left = out:match("calls (%d+) left (%-?%d+)")
    assert.is_true(tonumber(calls) > 2000, out)
    assert.equals("0", left)
  end)
end)
