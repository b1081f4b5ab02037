-- Blocking works wherever Lua code runs, because a greenlet switch is a
-- C-level stack switch, not a coroutine yield. Each case here fails with
-- "attempt to yield across a C-call boundary" in coroutine-based schedulers.
local green = require "green"

-- Run fn in a greenlet and return its results.
local function in_greenlet(fn) return green.spawn(fn):get() end

-- A greenlet that counts while the others block, to show they really did.
local function with_ticker(fn)
  local ticks = 0
  local ticker = green.spawn(function()
    while true do ticks = ticks + 1; green.sleep(0) end
  end)
  local results = table.pack(in_greenlet(fn))
  ticker:kill()
  assert.is_true(ticks > 0, "nothing else ran while it blocked")
  return table.unpack(results, 1, results.n)
end

describe("blocking from anywhere", function()
  it("inside pcall and xpcall, and in xpcall's message handler", function()
    assert.same({true, "a"}, {with_ticker(function()
      return pcall(function() green.sleep(0.001); return "a" end)
    end)})
    local ok, msg = with_ticker(function()
      return xpcall(function() error("e") end,
        function(m) green.sleep(0.001); return "handled " .. m end)
    end)
    assert.is_false(ok)
    assert.matches("handled .*e", msg)
  end)

  it("inside __index, __newindex, __call, __eq, __lt, __le and __concat", function()
    local mt = {}
    mt.__index = function(_, k) green.sleep(0) return k .. "!" end
    mt.__newindex = function(t, k, v) green.sleep(0) rawset(t, k, v * 2) end
    mt.__call = function(_, x) green.sleep(0) return x + 1 end
    mt.__eq = function() green.sleep(0) return true end
    mt.__lt = function() green.sleep(0) return true end
    mt.__le = function() green.sleep(0) return false end
    mt.__concat = function() green.sleep(0) return "joined" end
    local a, b = setmetatable({}, mt), setmetatable({}, mt)
    local r = {with_ticker(function()
      a.x = 21
      return a.key, rawget(a, "x"), a(1), a == b, a < b, a <= b, a .. "s"
    end)}
    assert.same({"key!", 42, 2, true, true, false, "joined"}, r)
  end)

  it("inside __tostring, through tostring and string.format", function()
    local obj = setmetatable({}, {__tostring = function()
      green.sleep(0)
      return "an object"
    end})
    assert.same({"an object", "<an object>"}, {with_ticker(function()
      return tostring(obj), string.format("<%s>", obj)
    end)})
  end)

  it("inside __close", function()
    local closed = false
    with_ticker(function()
      do
        local _ <close> = setmetatable({}, {__close = function()
          green.sleep(0.001)
          closed = true
        end})
      end
    end)
    assert.is_true(closed)
  end)

  -- table.sort, string.gsub, load and tostring call back into Lua with
  -- plain lua_call, which has no continuation: no coroutine can yield there.
  it("inside iterators and table.sort comparators", function()
    local function slow_range(n)
      local i = 0
      return function() green.sleep(0); i = i + 1; if i <= n then return i end end
    end
    local sum, sorted = with_ticker(function()
      local s = 0
      for i in slow_range(4) do s = s + i end
      local t = {5, 3, 9, 1, 7}
      table.sort(t, function(x, y) green.sleep(0) return x < y end)
      return s, t
    end)
    assert.equals(10, sum)
    assert.same({1, 3, 5, 7, 9}, sorted)
  end)

  it("inside string.gsub callbacks and load reader functions", function()
    local out, chunk_result = with_ticker(function()
      local s = ("abc"):gsub("%a", function(c) green.sleep(0) return c:upper() end)
      local parts, i = {"return ", "6 * ", "7"}, 0
      local f = load(function() green.sleep(0); i = i + 1; return parts[i] end)
      return s, f()
    end)
    assert.equals("ABC", out)
    assert.equals(42, chunk_result)
  end)

  it("at the top level of a required module", function()
    package.loaded["fixtures.blocking_module"] = nil
    local old = package.path
    package.path = "spec/?.lua;" .. package.path
    local m = with_ticker(function() return require "fixtures.blocking_module" end)
    package.path = old
    assert.is_true(m.loaded_after_sleep)
  end)

  it("inside coroutines nested in a greenlet, wrapped or resumed", function()
    local a, b = with_ticker(function()
      local co = coroutine.wrap(function(x)
        green.sleep(0.001)
        local y = coroutine.yield(x + 1)
        green.sleep(0)
        return y * 2
      end)
      local first = co(1)
      local second = co(10)
      local c = coroutine.create(function() green.sleep(0) return "resumed" end)
      local _, r = coroutine.resume(c)
      return first + second, r
    end)
    assert.equals(22, a)
    assert.equals("resumed", b)
  end)

end)

describe("kills and timeouts", function()
  it("raise on the coroutine that blocked, and propagate through resume", function()
    local seen
    local g = green.spawn(function()
      local co = coroutine.create(function() green.sleep(10) end)
      local ok, err = coroutine.resume(co)
      seen = {ok, err, coroutine.status(co)}
      error(err)
    end)
    green.sleep(0)
    g:kill()
    assert.same({false, green.GreenletExit, "dead"}, seen)
    assert.is_true(g:successful())
  end)
end)

describe("blocking where it cannot be allowed", function()
  it("raises a clear error inside a __gc finalizer", function()
    local err
    in_greenlet(function()
      setmetatable({}, {__gc = function()
        local ok, e = pcall(green.sleep, 0)
        err = e
        assert(not ok)
      end})
      collectgarbage()
      collectgarbage()
    end)
    assert.matches("cannot block inside a __gc finalizer", err)
  end)

  it("says a wait would block forever when nothing can ever end it", function()
    local previous = green.on_error(function() end)
    local a, b
    a = green.spawn(function() green.sleep(0) return b:join() end)
    b = green.spawn(function() green.sleep(0) return a:join() end)
    local ok, err = pcall(a.join, a)     -- the main greenlet hears first
    assert.is_false(ok)
    assert.matches("would block forever", err)
    assert.is_false(a:dead() or b:dead())
    green.run()                            -- then one of the two, a first
    green.on_error(previous)
    assert.is_false(a:successful())
    assert.matches("join would block forever", a.exception)
    assert.is_true(b:successful())
  end)

  it("tells one waiter at a time, so the others can still be woken", function()
    local ev = green.Event()
    local b = green.spawn(function()
      local ok = pcall(ev.wait, ev)
      assert(not ok)
      return "caught"
    end)
    local a = green.spawn(function() return b:get() end)
    green.run()
    assert.equals("caught", a:get())
  end)
end)
