-- green.Event and green.AsyncResult.
local green = require "green"

describe("green.Event", function()
  it("set wakes every waiter; wait returns true, or false on timeout", function()
    local ev, woken = green.Event(), 0
    assert.is_false(ev:wait(0.01))
    for _ = 1, 3 do green.spawn(function() if ev:wait() then woken = woken + 1 end end) end
    green.sleep(0)
    ev:set()
    assert.is_true(ev:is_set())
    green.sleep(0)
    assert.equals(3, woken)
    assert.is_true(ev:wait(0))
    ev:clear()
    assert.is_false(ev:is_set())
  end)

  it("a waiter killed while waiting raises the kill", function()
    local ev = green.Event()
    local g = green.spawn(function() ev:wait() end)
    green.sleep(0)
    g:kill("stop")
    assert.equals("stop", g.exception)
  end)
end)

describe("green.AsyncResult", function()
  it("get returns every value set, to every waiter", function()
    local r, got = green.AsyncResult(), {}
    for i = 1, 2 do green.spawn(function() got[i] = table.pack(r:get()) end) end
    green.sleep(0)
    assert.is_false(r:ready())
    r:set(1, nil, "three")
    green.sleep(0)
    for i = 1, 2 do assert.same({1, nil, "three", n = 3}, got[i]) end
    assert.is_true(r:ready())
    assert.is_true(r:successful())
  end)

  it("set_exception makes get re-raise; wait does not", function()
    local r = green.AsyncResult()
    r:set_exception("broken")
    assert.is_true(r:wait())
    assert.is_false(r:successful())
    assert.equals("broken", r.exception)
    assert.has_error(function() r:get() end, "broken")
  end)

  it("get times out with nil, 'timeout'; wait with false", function()
    local r = green.AsyncResult()
    assert.same({nil, "timeout"}, {r:get(0.01)})
    assert.is_false(r:wait(0.01))
    assert.same({nil, "timeout"}, {r:get(0)})
  end)

  it("works with green.wait", function()
    local r = green.AsyncResult()
    green.spawn_later(0.01, function() r:set("done") end)
    assert.same({r}, green.wait({r, green.Event()}, 5, 1))
    assert.equals("done", r:get())
  end)
end)
