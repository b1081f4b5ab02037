--- green.AsyncResult: one result (several values, or an error) that
-- greenlets wait for, as gevent's AsyncResult.
-- @module green.asyncresult

return function(green)
  local Event = green.Event
  local pack, unpack, error, setmetatable = table.pack, table.unpack, error, setmetatable

  local AsyncResult = {}
  AsyncResult.__index = AsyncResult
  AsyncResult.__name = "AsyncResult"

  --- A result not yet set.
  function green.AsyncResult()
    return setmetatable({_event = Event()}, AsyncResult)
  end

  --- Store the values `...` and wake every waiter. Setting again replaces
  -- the result for later readers.
  function AsyncResult:set(...)
    self._values, self._failed, self.exception = pack(...), false, nil
    self._event:set()
  end

  --- Store the error `err` (re-raised by `get`) and wake every waiter.
  function AsyncResult:set_exception(err)
    self._values, self._failed, self.exception = nil, true, err
    self._event:set()
  end

  --- The values, once set; re-raises the error set with `set_exception`.
  -- Returns `nil, "timeout"` if `timeout` seconds pass first.
  function AsyncResult:get(timeout)
    if not self._event:wait(timeout) then return nil, "timeout" end
    if self._failed then error(self.exception, 0) end
    return unpack(self._values, 1, self._values.n)
  end

  --- true once set (with values or an error); false on timeout. Never
  -- raises the stored error.
  function AsyncResult:wait(timeout)
    return self._event:wait(timeout)
  end

  --- Whether a result or an error is set.
  function AsyncResult:ready()
    return self._event:is_set()
  end

  --- Whether values (not an error) are set.
  function AsyncResult:successful()
    return self._event:is_set() and not self._failed
  end

  function AsyncResult:__tostring()
    local state = not self:ready() and "unset" or self._failed and "failed" or "set"
    return ("AsyncResult (%s)"):format(state)
  end

  green.AsyncResultClass = AsyncResult
end
