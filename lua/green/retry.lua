--- green.staggered_retries: call a function again as time passes, while
-- the earlier tries keep running, and take the first answer (seed 000's
-- staggered_retries). Meant for idempotent calls, such as an HTTP GET.
-- @module green.retry

return function(green)
  local spawn, AsyncResult, killall = green.spawn, green.AsyncResult, green.killall
  local pack, unpack, type, error, ipairs, pcall =
    table.pack, table.unpack, type, error, ipairs, pcall

  local function check_timeouts(opts)
    local timeouts = type(opts) == "table" and opts.timeouts
    if type(timeouts) ~= "table" or #timeouts == 0 then
      error("bad argument #2 to 'staggered_retries' (expected {timeouts = " ..
        "{seconds, ...}})", 3)
    end
    for i, t in ipairs(timeouts) do
      if type(t) ~= "number" or not (t >= 0) then
        error(("bad argument #2 to 'staggered_retries' (timeouts[%d] must be " ..
          "a number >= 0)"):format(i), 3)
      end
    end
    return timeouts
  end

  --- Call `fn(...)` in a greenlet; each time `opts.timeouts[i]` seconds pass
  -- without an answer, start another try beside the running ones. Returns
  -- the results of the first try to return; the other tries are then
  -- killed. A try that raises is not an answer. When the last timeout has
  -- passed with no answer, the tries are killed and it returns nil, or
  -- nil and the last error if every try failed.
  function green.staggered_retries(fn, opts, ...)
    local timeouts = check_timeouts(opts)
    local answer, tries, failed, last_error = AsyncResult(), {}, 0, nil
    local function try(...)
      local results = pack(pcall(fn, ...))
      if results[1] then
        if not answer:ready() then answer:set(unpack(results, 2, results.n)) end
      else
        failed, last_error = failed + 1, results[2]
      end
    end
    -- The tries end with this call, however it is left: a kill or a
    -- Timeout in the caller too.
    local _ <close> = setmetatable({}, {__close = function()
      killall(tries, nil, {block = false})
    end})
    for _, seconds in ipairs(timeouts) do
      tries[#tries + 1] = spawn(try, ...)
      if answer:wait(seconds) then break end
    end
    if answer:ready() then return answer:get() end
    if failed == #tries then return nil, last_error end
    return nil
  end
end
