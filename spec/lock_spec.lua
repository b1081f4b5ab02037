-- green.Semaphore, BoundedSemaphore, Lock and RLock.
local green = require "green"

describe("green.Semaphore", function()
  it("counts permits; acquire(0) and timeouts return nil, 'timeout'", function()
    local s = green.Semaphore(2)
    assert.is_true(s:acquire())
    assert.is_true(s:acquire(1))
    assert.equals(0, s:value())
    assert.is_true(s:locked())
    assert.same({nil, "timeout"}, {s:acquire(0)})
    assert.same({nil, "timeout"}, {s:acquire(0.01)})
    s:release()
    assert.equals(1, s:value())
    s:release(); s:release()           -- an unbounded semaphore may grow
    assert.equals(3, s:value())
  end)

  it("hands permits to waiters in the order they began to wait", function()
    local s, order = green.Semaphore(0), {}
    for i = 1, 3 do
      green.spawn(function() s:acquire(); order[#order + 1] = i end)
    end
    green.sleep(0)
    s:release()
    assert.same({nil, "timeout"}, {s:acquire(0)})   -- handed over, not free
    s:release(); s:release()
    green.sleep(0)
    assert.same({1, 2, 3}, order)
  end)

  it("a waiter that times out or is killed takes no permit", function()
    local s = green.Semaphore(0)
    local timed = green.spawn(function() return s:acquire(0.01) end)
    local killed = green.spawn(function() return s:acquire() end)
    green.sleep(0)
    killed:kill()
    assert.same({nil, "timeout"}, {timed:get()})
    s:release()
    assert.equals(1, s:value())
  end)

  it("wait waits for a free permit without taking it", function()
    local s = green.Semaphore(0)
    assert.is_false(s:wait(0.01))
    green.spawn(function() green.sleep(0.01); s:release() end)
    assert.is_true(s:wait(5))
    assert.equals(1, s:value())
    assert.same({s}, green.wait({s}, 1))
  end)

  it("checks its argument", function()
    assert.has_error(function() green.Semaphore(-1) end,
                     "bad argument #1 to 'Semaphore' (must be between 0 and 2^31-1)")
    assert.has_error(function() green.Semaphore("x") end)
  end)
end)

describe("green.BoundedSemaphore", function()
  it("raises when released more often than acquired", function()
    local s = green.BoundedSemaphore(2)
    assert.has_error(function() s:release() end,
                     "release: BoundedSemaphore released more times than acquired")
    s:acquire()
    s:release()
    assert.equals(2, s:value())
  end)
end)

describe("green.Lock", function()
  it("admits one holder at a time, in arrival order", function()
    local lock, inside, most, order = green.Lock(), 0, 0, {}
    local gs = {}
    for i = 1, 4 do
      gs[i] = green.spawn(function()
        lock:acquire()
        inside = inside + 1
        most = math.max(most, inside)
        order[#order + 1] = i
        green.sleep(0.001)
        inside = inside - 1
        lock:release()
      end)
    end
    green.joinall(gs)
    assert.equals(1, most)
    assert.same({1, 2, 3, 4}, order)
    assert.has_error(function() lock:release() end,
                     "release: Lock released more times than acquired")
  end)

  it("hold() with <close> releases on return, on error and on kill", function()
    local lock = green.Lock()
    local function body(fail)
      local held <close> = assert(lock:hold())
      assert.is_true(lock:locked())
      if fail then error("boom") end
    end
    body(false)
    assert.is_false(lock:locked())
    assert.is_false(pcall(body, true))
    assert.is_false(lock:locked())
    local g = green.spawn(function()
      local held <close> = assert(lock:hold())
      green.sleep(10)
    end)
    green.sleep(0)
    assert.is_true(lock:locked())
    g:kill()
    assert.is_false(lock:locked())
  end)

  it("hold(timeout) returns nil, 'timeout' when it cannot get the lock", function()
    local lock = green.Lock()
    lock:acquire()
    local g = green.spawn(function() return lock:hold(0.01) end)
    assert.same({nil, "timeout"}, {g:get()})
    lock:release()
  end)
end)

describe("green.RLock", function()
  it("is re-entrant for its owner and excludes other greenlets", function()
    local lock = green.RLock()
    assert.is_true(lock:acquire())
    assert.is_true(lock:acquire())
    local other = green.spawn(function() return lock:acquire(0.01) end)
    assert.same({nil, "timeout"}, {other:get()})
    lock:release()
    assert.is_true(lock:locked())
    lock:release()
    assert.is_false(lock:locked())
    assert.is_true(green.spawn(function() return lock:acquire() end):get())
  end)

  it("refuses a release by a greenlet that does not hold it", function()
    local lock = green.RLock()
    assert.has_error(function() lock:release() end,
                     "release: this RLock is not held by this greenlet")
    lock:acquire()
    local ok, err = green.spawn(function() return pcall(lock.release, lock) end):get()
    assert.is_false(ok)
    assert.matches("not held by this greenlet", err)
    lock:release()
  end)
end)
