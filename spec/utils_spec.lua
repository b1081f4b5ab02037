-- green.staggered_retries and green.timed (seed 000's utilities).
local green = require "green"

describe("green.staggered_retries", function()
  it("returns the first answer, starting a new try as each timeout passes", function()
    local started, gates, three = 0, {}, green.Event()
    local function fetch(key)
      started = started + 1
      if started == 3 then three:set() end
      local mine = green.Event()
      gates[started] = mine
      mine:wait()
      return "value of " .. key, started
    end
    local result
    local caller = green.spawn(function()
      result = table.pack(green.staggered_retries(fetch, {timeouts = {0.01, 0.01, 5}}, "k"))
    end)
    three:wait()                      -- three tries are running
    gates[2]:set()                    -- the second answers first
    caller:join()
    assert.same({n = 2, "value of k", 3}, result)
    assert.equals(3, started)
  end)

  it("returns at once when the first try answers in time", function()
    local calls = 0
    local v = green.staggered_retries(function(x) calls = calls + 1; return x * 2 end,
      {timeouts = {1, 1}}, 21)
    assert.equals(42, v)
    assert.equals(1, calls)
  end)

  it("returns nil when all time runs out, and kills the tries", function()
    local tries = {}
    local result = table.pack(green.staggered_retries(function()
      tries[#tries + 1] = green.getcurrent()
      green.sleep(10)
    end, {timeouts = {0.01, 0.02}}))
    assert.same({n = 1}, result)
    assert.equals(2, #tries)
    green.sleep(0)
    for _, g in ipairs(tries) do assert.is_true(g:dead()) end
  end)

  it("a try that raises is no answer; if every try fails, the last error comes back", function()
    local n = 0
    local v = green.staggered_retries(function()
      n = n + 1
      if n == 1 then error("first fails") end
      return "second"
    end, {timeouts = {0.01, 1}})
    assert.equals("second", v)
    local none, err = green.staggered_retries(function() error("always") end,
      {timeouts = {0.01, 0.01}})
    assert.is_nil(none)
    assert.matches("always", err)
  end)

  it("refuses bad options", function()
    assert.error_matches(function() green.staggered_retries(print, {}) end,
      "expected {timeouts = {seconds, ...}}", 1, true)
    assert.error_matches(function() green.staggered_retries(print, {timeouts = {1, -1}}) end,
      "timeouts[2] must be a number >= 0", 1, true)
  end)
end)

describe("green.timed", function()
  it("reports each call's milliseconds, blocking included, to a callback", function()
    local reports = {}
    local nap = green.timed(function(s, tag) green.sleep(s); return tag, s end,
      {report = function(ms, ok, ...) reports[#reports + 1] = {ms, ok, ...} end})
    assert.same({"a", 0.02}, {nap(0.02, "a")})
    assert.equals(1, #reports)
    assert.is_true(reports[1][1] >= 15, "ms: " .. reports[1][1])
    assert.same({true, 0.02, "a"}, {reports[1][2], reports[1][3], reports[1][4]})
  end)

  it("adds calls to a named stats table, errors too, which keep their traceback", function()
    local f = green.timed(function(fail) if fail then error("boom") end return 1 end,
      {stats = "spec.timed"})
    f(false)
    f(false)
    local ok, err = pcall(f, true)
    assert.is_false(ok)
    assert.matches("boom", err)
    local s = green.timed_stats["spec.timed"]
    assert.equals(3, s.calls)
    assert.equals(1, s.errors)
    assert.is_true(s.min_ms <= s.max_ms and s.total_ms >= s.max_ms)
  end)

  it("refuses bad arguments", function()
    assert.error_matches(function() green.timed(1, {stats = "x"}) end,
      "bad argument #1 to 'timed' (function expected, got number)", 1, true)
    assert.error_matches(function() green.timed(print) end,
      "expected {report = fn} or {stats = name}", 1, true)
  end)
end)
