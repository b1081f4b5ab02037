--- green.timed: wrap a function to time each of its calls in
-- milliseconds (seed 000's timing wrapper), for a callback or a named
-- stats table.
-- @module green.timed

return function(green)
  local now, pack, unpack, type, error, setmetatable, math_min, math_max =
    green.now, table.pack, table.unpack, type, error, setmetatable, math.min,
    math.max
  local args = require "green.args"

  --- Stats of `green.timed` wrappers, by name: `calls`, `errors`,
  -- `total_ms`, `min_ms`, `max_ms`, `last_ms`.
  green.timed_stats = {}

  local function record(name, ms, ok)
    local s = green.timed_stats[name]
    if s == nil then
      s = {calls = 0, errors = 0, total_ms = 0, min_ms = math.huge, max_ms = 0}
      green.timed_stats[name] = s
    end
    s.calls, s.total_ms, s.last_ms = s.calls + 1, s.total_ms + ms, ms
    s.min_ms, s.max_ms = math_min(s.min_ms, ms), math_max(s.max_ms, ms)
    if not ok then s.errors = s.errors + 1 end
  end

  --- A function that calls `fn` with its arguments and returns (or
  -- raises) what `fn` does, timing the call on the hub's clock, blocking
  -- included. Options: `report(ms, ok, ...)` is called after each call
  -- with the milliseconds, whether it returned, and its arguments; `stats`
  -- names an entry of `green.timed_stats` to add the call to.
  function green.timed(fn, opts)
    args.check_function(fn, 1, "timed")
    opts = opts or {}
    local report, stats = opts.report, opts.stats
    if report == nil and stats == nil then
      error("bad argument #2 to 'timed' (expected {report = fn} or {stats = name})", 2)
    end
    if report ~= nil and type(report) ~= "function" then
      error("bad argument #2 to 'timed' (report must be a function)", 2)
    end
    return function(...)
      local start, args = now(), report and pack(...)
      -- A to-be-closed value sees both ends, so an error (or a kill) keeps
      -- its own traceback on its way out.
      local _ <close> = setmetatable({}, {__close = function(_, err)
        local ms = (now() - start) * 1000
        if stats ~= nil then record(stats, ms, err == nil) end
        if report ~= nil then report(ms, err == nil, unpack(args, 1, args.n)) end
      end})
      return fn(...)
    end
  end
end
