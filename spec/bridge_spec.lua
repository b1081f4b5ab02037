-- green.await, green.await_timeout and green.async, against a callback-style
-- timer API written here.
local green = require "green"

-- A callback-style API: call back(...) after `seconds`, from a greenlet of
-- its own, as a C library would call back from its event loop.
local function timer(seconds, value, callback)
  green.spawn_later(seconds, callback, value, seconds)
end
local function twice(value, callback)       -- a buggy API: calls back twice
  green.spawn(function() callback(value); callback("again") end)
end
local function at_once(value, callback) callback(value, "now") end

describe("green.await", function()
  it("blocks until the callback is called and returns its arguments", function()
    assert.same({"tick", 0.01}, {green.await(timer, 0.01, "tick")})
  end)

  it("works when the callback is called before start returns", function()
    assert.same({"x", "now"}, {green.await(at_once, "x")})
  end)

  it("ignores a second call of the callback", function()
    assert.same({"first"}, {green.await(twice, "first")})
    green.sleep(0)                          -- the second call: no crash
  end)

  it("await_timeout returns nil, 'timeout' and ignores a late callback", function()
    assert.same({nil, "timeout"}, {green.await_timeout(0.01, timer, 0.05, "late")})
    green.sleep(0.06)                       -- the late call comes and goes
    assert.same({"soon", 0.001}, {green.await_timeout(5, timer, 0.001, "soon")})
  end)

  it("lets other greenlets run while waiting", function()
    local ran = false
    green.spawn(function() ran = true end)
    green.await(timer, 0.001, "x")
    assert.is_true(ran)
  end)

  it("checks its argument", function()
    assert.has_error(function() green.await(nil) end,
                     "bad argument #1 to 'await' (function expected, got nil)")
    assert.has_error(function() green.await_timeout(1, {}) end,
                     "bad argument #2 to 'await_timeout' (function expected, got table)")
  end)
end)

describe("green.async", function()
  it("returns an AsyncResult at once; the function runs in a greenlet", function()
    local steps = {}
    local work = green.async(function(a, b)
      steps[#steps + 1] = "running"
      green.sleep(0.001)
      return a + b, a * b
    end)
    local result = work(2, 5)
    steps[#steps + 1] = "returned"
    assert.same({7, 10}, {result:get()})
    assert.same({"returned", "running"}, steps)
  end)

  it("keeps the function's error for get to re-raise", function()
    local result = green.async(function() error("async failure", 0) end)()
    assert.has_error(function() result:get() end, "async failure")
  end)

  it("takes anything callable, and nothing else", function()
    local doubler = setmetatable({}, {__call = function(_, x) return 2 * x end})
    assert.equals(42, green.async(doubler)(21):get())
    assert.has_error(function() green.async(42) end,
                     "bad argument #1 to 'async' (function expected, got number)")
  end)
end)
