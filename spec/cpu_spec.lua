-- green.cpu_bound, green.cpu_bound_if and green.threadpool: Lua functions
-- on worker threads while the calling greenlet waits.
local green = require "green"
package.path = "spec/?.lua;" .. package.path
local process = require "support.process"

-- Busy work for a worker: pure Lua, about `seconds` of it.
local function spin(seconds)
  local start, n = os.clock(), 0
  while os.clock() - start < seconds do n = n + 1 end
  return n
end

describe("green.cpu_bound", function()
  local echo = green.cpu_bound(function(...) return ... end)

  it("round-trips every kind of value, integers and floats apart", function()
    local big = string.rep("\0\1\255", 50000)
    local values = table.pack(nil, true, false, 42, -0.5, math.maxinteger,
      2^53, math.huge, "", big)
    local back = table.pack(echo(table.unpack(values, 1, values.n)))
    assert.equals(values.n, back.n)
    for i = 1, values.n do
      assert.equals(values[i], back[i])
      assert.equals(math.type(values[i]), math.type(back[i]))
    end
  end)

  it("keeps shared and cyclic tables shared and cyclic, both ways", function()
    local shared = {"s"}
    local t = {a = shared, b = shared, list = {1, 2, {3}}}
    t.self = t
    local u = echo(t)
    assert.equals(u, u.self)
    assert.equals(u.a, u.b)
    assert.same({1, 2, {3}}, u.list)
    local made = green.cpu_bound(function()
      local r = {n = 1}
      r.loop = {back = r}
      return r
    end)()
    assert.equals(made, made.loop.back)
  end)

  it("carries functions with their upvalues, and returns them", function()
    local factor = 7
    local scale = green.cpu_bound(function(x) return x * factor end)
    assert.equals(42, scale(6))
    local adder = green.cpu_bound(function(n) return function(x) return x + n end end)(10)
    assert.equals(15, adder(5))
  end)

  it("refuses what cannot cross, naming where it was found", function()
    assert.error_matches(function() echo(1, {conn = io.stdout}) end,
      "argument 2, field 'conn': cannot send a userdata to a worker thread", 1, true)
    local conn = io.stdout
    assert.error_matches(function() green.cpu_bound(function() return conn end)() end,
      "the function, upvalue 'conn': cannot send a userdata to a worker thread", 1, true)
    assert.error_matches(function() green.cpu_bound(function() return {io.stdout} end)() end,
      "result 1, field '[1]': cannot send a userdata back from a worker thread", 1, true)
    assert.error_matches(function() echo(coroutine.create(print)) end,
      "argument 1: cannot send a coroutine", 1, true)
  end)

  it("raises the worker's error in the caller, with the worker's traceback", function()
    local ok, err = pcall(green.cpu_bound(function() error("worker failed") end))
    assert.is_false(ok)
    assert.matches("worker failed", err, 1, true)
    assert.matches("(on the worker thread)", err, 1, true)
    assert.matches("stack traceback", err, 1, true)
    local object = green.cpu_bound(function() error({code = 7}) end)
    local ok2, err2 = pcall(object)
    assert.is_false(ok2)
    assert.same({code = 7}, err2)
  end)

  it("answers 10,000 calls from 1,000 greenlets, each correctly", function()
    local square = green.cpu_bound(function(x) return x * x, x end)
    local wrong, group = 0, green.Group()
    for g = 1, 1000 do
      group:spawn(function()
        for i = 1, 10 do
          local x = g * 100 + i
          local sq, back = square(x)
          if sq ~= x * x or back ~= x then wrong = wrong + 1 end
        end
      end)
    end
    assert.is_true(group:join(120))
    assert.equals(0, wrong)
  end)

  it("keeps the loop serving while workers compute", function()
    local pool <close> = green.threadpool(2)
    local ticks, running = 0, true
    local ticker = green.spawn(function()
      while running do green.sleep(0.01); ticks = ticks + 1 end
    end)
    local work = green.cpu_bound(spin, pool)
    local a, b = green.spawn(work, 1), green.spawn(work, 1)
    green.joinall({a, b}, {raise_error = true})
    running = false
    ticker:join()
    -- 1 s of 10 ms sleeps: about 100 ticks when the loop never stalls; a
    -- stalled loop would see one or two.
    assert.is_true(ticks >= 20, "ticks: " .. ticks)
    assert.is_true(a:get() > 0 and b:get() > 0)
  end)

  it("a caller killed mid-task leaves at once; the worker finishes and " ..
     "frees the task", function()
    local live = require("green.core")._cpu_tasks
    local pool = green.threadpool(1)
    local started = green.cpu_bound(function() return true end, pool)
    assert.is_true(started())           -- the worker has its state now
    local before = live()
    local work = green.cpu_bound(spin, pool)
    local caller = green.spawn(work, 0.3)
    green.sleep(0.05)
    local t0 = green.now()
    caller:kill()
    assert.equals(green.GreenletExit, caller:get())
    assert.is_true(green.now() - t0 < 0.25)
    -- The one worker is free again once that task ends.
    assert.equals(4, pool:run(function(x) return x * x end, 2))
    pool:close()                        -- joins the worker
    assert.equals(before, live())
  end)

  it("a Timeout during a task raises in the caller", function()
    local ok, err = pcall(green.with_timeout, 0.05, green.cpu_bound(spin), 0.3)
    assert.is_false(ok)
    assert.is_true(green.is_timeout(err))
  end)

  it("lets workers require modules on the caller's package.path", function()
    local saved = package.path
    package.path = "spec/fixtures/?.lua;" .. package.path
    local ok, result = pcall(green.cpu_bound(function(x)
      return require("worker_helper").triple(x)
    end), 5)
    package.path = saved
    assert.is_true(ok, result)
    assert.equals(15, result)
  end)

  it("gives a worker the caller's package paths again whenever they change", function()
    local one = green.threadpool(1)
    local paths = green.cpu_bound(function()
      return package.path, package.cpath
    end, one)
    local saved = package.path
    assert.same({saved, package.cpath}, {paths()})
    package.path = "changed/?.lua"
    assert.same({"changed/?.lua", package.cpath}, {paths()})
    assert.same({"changed/?.lua", package.cpath}, {paths()})
    package.path = saved
    assert.same({saved, package.cpath}, {paths()})
    one:close()
  end)

  it("refuses green's blocking calls on a worker; cpu_bound there runs inline", function()
    assert.error_matches(green.cpu_bound(function() require("green").sleep(0.01) end),
      "green.sleep cannot be used on a worker thread", 1, true)
    local on_worker = green.cpu_bound(function()
      local g = require "green"
      local inner = g.cpu_bound(function() return require("green.core").on_worker() end)
      return require("green.core").on_worker(), inner()
    end)
    assert.same({true, true}, {on_worker()})
  end)

  it("cpu_bound_if runs inline when the predicate says so", function()
    local where = green.cpu_bound_if(function(s) return #s > 4 end,
      function(s) return require("green.core").on_worker(), s end)
    assert.same({false, "tiny"}, {where("tiny")})
    assert.same({true, "long enough"}, {where("long enough")})
  end)

  it("a single-thread pool runs tasks one at a time, loading a function once", function()
    local pool <close> = green.threadpool(1)
    assert.equals(1, pool:threads())
    local identity = function() return tostring(debug.getinfo(1, "f").func) end
    assert.equals(pool:run(identity), pool:run(identity))
    local order, group = {}, green.Group()
    for i = 1, 5 do
      group:spawn(function()
        local x = pool:run(function(v) return v end, i)
        order[#order + 1] = x
      end)
    end
    group:join()
    assert.same({1, 2, 3, 4, 5}, order)
  end)

  it("refuses bad arguments", function()
    assert.error_matches(function() green.cpu_bound(42) end,
      "bad argument #1 to 'cpu_bound' (function expected, got number)", 1, true)
    assert.error_matches(function() green.cpu_bound_if(print, nil) end,
      "bad argument #2 to 'cpu_bound_if'", 1, true)
    assert.error_matches(function() green.threadpool(-1) end, "must be 0 to 4096")
    local pool = green.threadpool(1)
    pool:close()
    assert.error_matches(function() pool:run(print) end, "ThreadPool is closed")
  end)

  -- valgrind sees lost memory, such as a worker's lua_State never closed;
  -- a task left unfreed may stay reachable from a cached thread stack,
  -- which the count of live tasks above catches instead.
  it("joins its workers when the state closes, leaking nothing", function()
    local script = [[
      local green = require "green"
      local pool = green.threadpool(1)
      local slow = green.spawn(pool.run, pool, function()
        local t = os.clock() while os.clock() - t < 0.2 do end return 1 end)
      green.sleep(0)
      local queued = green.spawn(pool.run, pool, function() return 2 end)
      green.sleep(0)
      queued:kill()                     -- withdrawn: freed at once
      green.sleep(0.05)
      slow:kill()                       -- abandoned: the worker frees it
      print(pool:run(function(x) return x + 1 end, 41))
      os.exit(0, true)                  -- close the state
    ]]
    local f = assert(io.open("/tmp/green_cpu_close.lua", "w"))
    f:write(script)
    f:close()
    -- Under make asan the module is instrumented: LeakSanitizer checks the
    -- child instead of valgrind, which cannot run instrumented code.
    local paths = "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='" ..
      process.build .. "/?.so;;' "
    local command = os.getenv("ASAN_OPTIONS")
      and "ASAN_OPTIONS=detect_leaks=1 " .. paths .. "lua5.4 "
      or "env -u LD_PRELOAD " .. paths .. "valgrind -q --error-exitcode=99 " ..
         "--leak-check=full --errors-for-leak-kinds=definite " ..
         "--suppressions=spec/c/valgrind.supp lua5.4 "
    local out, code = process.run(command .. "/tmp/green_cpu_close.lua")
    os.remove("/tmp/green_cpu_close.lua")
    assert.equals(0, code, out)
    assert.equals("42\n", out)
  end)
end)
