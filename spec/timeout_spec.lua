local green = require "green"

describe("green.Timeout", function()
  it("raises itself in the greenlet that started it, at its blocking call", function()
    local t = green.Timeout(0.01)
    assert.is_false(t.pending)
    t:start()
    assert.is_true(t.pending)
    local ok, err = pcall(green.sleep, 1)
    assert.is_false(ok)
    assert.equals(t, err)
    assert.is_true(green.is_timeout(err))
    assert.is_false(t.pending)
    t:cancel()
  end)

  it("raises the given error instead of itself", function()
    local t = green.Timeout.start_new(0.01, "too slow")
    local ok, err = pcall(green.sleep, 1)
    t:cancel()
    assert.same({false, "too slow"}, {ok, err})
  end)

  it("does nothing once cancelled, and nothing with no seconds", function()
    local t = green.Timeout.start_new(0.01)
    t:cancel()
    assert.is_false(t.pending)
    green.sleep(0.02)
    local never = green.Timeout()
    never:start()
    assert.is_false(never.pending)
    assert.is_nil(never.seconds)
    green.sleep(0.001)
  end)

  it("is cancelled when a <close> variable leaves scope", function()
    do
      local t <close> = green.Timeout.start_new(0.01)
      green.sleep(0)
    end
    green.sleep(0.02)                   -- it would have fired here
  end)

  it("raises inside a coroutine that blocks within the greenlet", function()
    local got = green.spawn(function()
      local t = green.Timeout.start_new(0.01)
      local co = coroutine.create(function() green.sleep(1) end)
      local ok, err = coroutine.resume(co)
      t:cancel()
      return ok, err == t
    end)
    assert.same({false, true}, {got:get()})
  end)

  it("is withdrawn by a cancel that comes before the greenlet blocks again", function()
    local function busy(seconds)          -- keeps the CPU without blocking
      local deadline = os.clock() + seconds
      while os.clock() < deadline do end
    end
    local g = green.spawn(function()
      local t = green.Timeout.start_new(0.001)
      -- `other` busies itself past the deadline, then ends, which makes us
      -- ready; the hub polls before we run, and the timer fires while we
      -- are ready, not blocked: the Timeout waits for our next block.
      local other = green.spawn(busy, 0.02)
      assert(other:join() == true)
      local fired = not t.pending
      t:cancel()                          -- before any block: withdrawn
      green.sleep(0.001)                  -- so this does not raise
      return fired
    end)
    assert.is_true(g:get())
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() green.Timeout(-1) end,
      "bad argument #1 to 'Timeout' (must be a finite number of seconds, at least 0)")
    local t = green.Timeout.start_new(1)
    assert.has_error(function() t:start() end, "this Timeout is already started")
    t:cancel()
    assert.equals("Timeout(1.0 seconds)", tostring(t))
  end)
end)

describe("green.with_timeout", function()
  it("returns the function's results in time", function()
    assert.same({1, 2}, {green.with_timeout(1, function(a, b)
      green.sleep(0.001) return a, b end, 1, 2)})
  end)

  it("raises the Timeout when time runs out", function()
    local ok, err = pcall(green.with_timeout, 0.01, green.sleep, 1)
    assert.is_false(ok)
    assert.is_true(green.is_timeout(err))
  end)

  it("returns timeout_value instead, in its _value form", function()
    assert.equals("late", green.with_timeout_value(0.01, "late", green.sleep, 1))
    assert.equals(3, green.with_timeout_value(1, "late", function() return 3 end))
    assert.has_error(function()
      green.with_timeout_value(1, "late", error, "own error", 0)
    end, "own error")
  end)
end)
