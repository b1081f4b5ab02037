-- green.Group, green.Pool and green.TaskGroup.
local green = require "green"

describe("green.Group", function()
  it("spawns members, joins them, and forgets them as they finish", function()
    local group, done = green.Group(), 0
    for i = 1, 5 do group:spawn(function() green.sleep(0.001 * i); done = done + 1 end) end
    assert.equals(5, #group)
    assert.is_true(group:join(10))
    assert.equals(5, done)
    assert.equals(0, #group)
  end)

  it("adds and discards running greenlets", function()
    local group = green.Group()
    local g = green.spawn(green.sleep, 10)
    group:add(g)
    assert.is_true(group:has(g))
    assert.is_false(group:join(0.01))
    group:discard(g)
    assert.is_true(group:join(0))
    g:kill()
  end)

  it("kill kills every member", function()
    local group = green.Group()
    local a, b = group:spawn(green.sleep, 10), group:spawn(green.sleep, 10)
    group:kill()
    assert.is_true(a:dead() and b:dead())
    assert.equals(0, #group)
  end)

  it("join with raise_error re-raises a member's error", function()
    local group = green.Group()
    group:spawn(function() error("member broke", 0) end)
    assert.has_error(function() group:join(10, true) end, "member broke")
  end)

  it("apply, map, imap and imap_unordered", function()
    local group = green.Group()
    assert.same({4, 3}, {group:apply(function(a, b) return a + b, a * b end, 1, 3)})
    local function slow_square(x) green.sleep(0.001 * (5 - x)); return x * x end
    assert.same({1, 4, 9, 16}, group:map(slow_square, {1, 2, 3, 4}))
    local order = {}
    for i, v in group:imap(slow_square, {1, 2, 3, 4}) do order[#order + 1] = {i, v} end
    assert.same({{1, 1}, {2, 4}, {3, 9}, {4, 16}}, order)
    local seen = {}
    for i, v in group:imap_unordered(slow_square, {1, 2, 3, 4}) do seen[i] = v end
    assert.same({1, 4, 9, 16}, seen)
    assert.has_error(function()
      group:map(function(x) if x == 2 then error("two", 0) end return x end, {1, 2, 3})
    end, "two")
  end)
end)

describe("green.Pool", function()
  it("runs at most size members at once; spawn waits for a slot", function()
    local pool, running, most = green.Pool(2), 0, 0
    for _ = 1, 6 do
      pool:spawn(function()
        running = running + 1
        most = math.max(most, running)
        green.sleep(0.002)
        running = running - 1
      end)
    end
    assert.is_true(pool:join(10))
    assert.equals(2, most)
    assert.equals(2, pool:free_count())
  end)

  it("free_count and wait_available", function()
    local pool = green.Pool(1)
    local g = pool:spawn(green.sleep, 0.01)
    assert.equals(0, pool:free_count())
    assert.is_false(pool:wait_available(0))
    assert.is_true(pool:wait_available(5))
    assert.is_true(g:dead())
    assert.equals(1, pool:free_count())
  end)

  it("map keeps order through a small pool", function()
    local pool = green.Pool(3)
    local list = {}
    for i = 1, 20 do list[i] = i end
    local out = pool:map(function(x) green.sleep(0.0005 * (x % 4)); return -x end, list)
    for i = 1, 20 do assert.equals(-i, out[i]) end
  end)

  it("checks its size", function()
    assert.has_error(function() green.Pool(0) end,
                     "bad argument #1 to 'Pool' (positive integer expected, got 0)")
    assert.has_error(function() green.Pool("x") end,
                     "bad argument #1 to 'Pool' (positive integer expected, got string)")
  end)

  it("spawns any callable, and refuses the rest without using a slot", function()
    local pool = green.Pool(1)
    local doubler = setmetatable({}, {__call = function(_, x) return 2 * x end})
    assert.equals(42, pool:spawn(doubler, 21):get())
    assert.has_error(function() pool:spawn({}) end,
                     "bad argument #1 to 'spawn' (function expected, got table)")
    assert.equals(1, pool:free_count())
  end)
end)

describe("green.TaskGroup", function()
  it("kills the other members when one fails, and join re-raises it", function()
    local tg = green.TaskGroup()
    local sleeper = tg:spawn(green.sleep, 10)
    tg:spawn(function() green.sleep(0.01); error("first failure", 0) end)
    assert.has_error(function() tg:join() end, "first failure")
    assert.is_true(sleeper:dead())
    assert.equals("first failure", tg.error)
  end)

  it("as a <close> scope, joins its members when the scope ends", function()
    local finished = 0
    do
      local tg <close> = green.TaskGroup()
      for _ = 1, 3 do tg:spawn(function() green.sleep(0.001); finished = finished + 1 end) end
    end
    assert.equals(3, finished)
  end)

  it("as a <close> scope, re-raises a member's error", function()
    local ok, err = pcall(function()
      local tg <close> = green.TaskGroup()
      tg:spawn(function() error("member failed", 0) end)
      tg:spawn(green.sleep, 10)
    end)
    assert.is_false(ok)
    assert.equals("member failed", err)
  end)

  it("as a <close> scope left by an error, kills its members", function()
    local member
    local ok, err = pcall(function()
      local tg <close> = green.TaskGroup()
      member = tg:spawn(green.sleep, 10)
      error("scope failed", 0)
    end)
    assert.is_false(ok)
    assert.equals("scope failed", err)
    assert.is_true(member:dead())
  end)
end)

describe("waiting for coordination types can be killed", function()
  it("a spawn waiting for a Pool slot, killed, takes no slot", function()
    local pool = green.Pool(1)
    local busy = pool:spawn(green.sleep, 10)
    local waiter = green.spawn(function() pool:spawn(function() end) end)
    green.sleep(0)
    waiter:kill()
    assert.is_true(waiter:dead())
    busy:kill()
    pool:join()
    assert.equals(1, pool:free_count())
  end)

  it("kills interrupt AsyncResult:get, JoinableQueue:join, peek and wait", function()
    local jq = green.JoinableQueue()
    jq:put(1)
    local waits = {
      function() green.AsyncResult():get() end,
      function() jq:join() end,
      function() green.Queue():peek() end,
      function() green.Semaphore(0):wait() end,
    }
    for i, wait in ipairs(waits) do
      local g = green.spawn(wait)
      green.sleep(0)
      assert.is_false(g:dead(), "wait " .. i)
      g:kill()
      assert.is_true(g:dead(), "wait " .. i)
    end
  end)

  it("Group works with green.wait", function()
    local group = green.Group()
    group:spawn(green.sleep, 0.01)
    assert.same({group}, green.wait({group, green.Event()}, 5, 1))
  end)
end)
