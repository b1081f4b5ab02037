--- Bridges between callback style and blocking style (greenletio's await
-- and async).
-- @module green.bridge

return function(green)
  local pack, unpack = table.pack, table.unpack
  local args = require "green.args"

  --- Call `start(..., callback)` and block until `callback` is called, or
  -- until `timeout` seconds pass (nil: no limit). Returns the callback's
  -- arguments, or `nil, "timeout"`. A callback called again, or after the
  -- timeout, is ignored.
  function green.await_timeout(timeout, start, ...)
    args.check_callable(start, 2, "await_timeout")
    local result, called = green.AsyncResult(), false
    local function callback(...)
      if called then return end
      called = true
      result:set(...)
    end
    local args = pack(...)
    args[args.n + 1] = callback
    start(unpack(args, 1, args.n + 1))
    if not result:wait(timeout) then
      called = true
      return nil, "timeout"
    end
    return result:get()
  end

  --- `await_timeout` with no time limit: `green.await(start, ...)`.
  function green.await(start, ...)
    args.check_callable(start, 1, "await")
    return green.await_timeout(nil, start, ...)
  end

  local function settle(result, ok, ...)
    if ok then result:set(...) else result:set_exception((...)) end
  end

  --- A function that runs `fn(...)` in a new greenlet and returns an
  -- AsyncResult at once; the result gets fn's values, or its error.
  function green.async(fn)
    args.check_callable(fn, 1, "async")
    return function(...)
      local result = green.AsyncResult()
      green.spawn(function(...) settle(result, pcall(fn, ...)) end, ...)
      return result
    end
  end
end
