local green = require "green"

local function sleeper(seconds, value)
  return green.spawn(function() green.sleep(seconds) return value end)
end

describe("green.Event", function()
  it("wakes every waiter when set, and waits with a timeout", function()
    local e = green.Event()
    local woken = {}
    for i = 1, 3 do green.spawn(function() e:wait(); woken[#woken + 1] = i end) end
    green.sleep(0)
    assert.same({}, woken)
    e:set()
    assert.is_true(e:is_set())
    green.sleep(0)
    assert.same({1, 2, 3}, woken)
    e:clear()
    assert.is_false(e:wait(0.01))
    assert.is_false(e:is_set())
  end)
end)

describe("green.iwait and green.wait", function()
  it("give greenlets in the order they finish", function()
    local a, b, c = sleeper(0.03, "a"), sleeper(0.01, "b"), sleeper(0.02, "c")
    local order = {}
    for g in green.iwait({a, b, c}) do order[#order + 1] = g.value end
    assert.same({"b", "c", "a"}, order)
  end)

  it("stop after count, or when the timeout passes", function()
    local a, b = sleeper(0.01, "a"), sleeper(10, "b")
    local first = green.wait({a, b}, nil, 1)
    assert.same({a}, first)
    local done = green.wait({a, b}, 0.02)
    assert.same({a}, done)
    b:kill()
  end)

  it("include greenlets already finished", function()
    local a = sleeper(0, "a")
    a:join()
    assert.same({a}, green.wait({a}))
  end)
end)

describe("green.joinall", function()
  it("returns the finished greenlets, and can re-raise the first error", function()
    local previous = green.on_error(function() end)
    local good = sleeper(0.001, 1)
    local bad = green.spawn(function() green.sleep(0.002) error("bad one", 0) end)
    local done = green.joinall({good, bad})
    assert.equals(2, #done)
    assert.has_error(function() green.joinall({good, bad}, {raise_error = true}) end, "bad one")
    green.on_error(previous)
    local slow = sleeper(10)
    assert.same({}, green.joinall({slow}, {timeout = 0.01}))
    slow:kill()
  end)

  it("waits for all greenlets without watching any, in the order given", function()
    local a, b, c = sleeper(0.03, "a"), sleeper(0.01, "b"), sleeper(0.02, "c")
    local before = green.stats()
    assert.same({a, b, c}, green.joinall({a, b, c}))
    assert.equals(before.spawned, green.stats().spawned)
    -- With a timeout, those that ended in time, still in the order given.
    local slow, quick = sleeper(10), sleeper(0.01)
    assert.same({quick}, green.joinall({slow, quick}, {timeout = 0.05}))
    slow:kill()
    -- With a count, the order they ended in.
    local x, y = sleeper(0.02, "x"), sleeper(0.01, "y")
    assert.same({y}, green.joinall({x, y}, {count = 1}))
    x:join()
  end)

  it("tells a greenlet from anything else", function()
    assert.is_true(green.is_greenlet(green.getcurrent()))
    assert.is_true(green.is_greenlet(green.spawn_raw(function() end)))
    for _, v in ipairs{1, "g", {}, io.stdout, green.Event()} do
      assert.is_false(green.is_greenlet(v))
    end
    assert.is_false(green.is_greenlet())
  end)
end)

describe("green.killall", function()
  it("kills every greenlet and waits for them", function()
    local gs = {sleeper(10), sleeper(10), sleeper(10)}
    green.sleep(0)
    green.killall(gs)
    for _, g in ipairs(gs) do
      assert.is_true(g:dead())
      assert.equals(green.GreenletExit, g:get())
    end
  end)

  it("can kill with another error and not wait", function()
    local previous = green.on_error(function() end)
    local gs = {sleeper(10), sleeper(10)}
    green.sleep(0)
    green.killall(gs, "stop", {block = false})
    assert.is_false(gs[1]:dead())
    green.joinall(gs)
    green.on_error(previous)
    assert.equals("stop", gs[1].exception)
  end)
end)
