--- Deferred calls: objects whose methods other greenlets call through a
-- queue, which the object's own processing greenlet runs at points it
-- chooses, so the object's state is only ever touched there
-- (gevent_async's DeferredCallHandler).
--
--    local m = green.deferred(Manager.new())
--    green.spawn(function() while true do m:manage(); m:process() end end)
--    m.oneway:update_resource(event)          -- returns at once
--    local res = m.sync:access_resources()    -- waits until processed
--    m:sync{timeout = 1}:taking_my_time()     -- raises a green.Timeout
--
-- Direct calls (`m:manage()`) stay plain calls, run wherever they are made.
-- @module green.deferred

return function(green)
  local DeferredQueue = require("green.core").DeferredQueue
  local start_timeout = green.Timeout.start_new
  local type, error, rawset, setmetatable, pairs =
    type, error, rawset, setmetatable, pairs

  local args = require "green.args"
  local callable = args.callable
  local SYNC_OPTIONS = {timeout = true}
  local PROCESS_OPTIONS = {forever = true, whitelist = true}

  local queues = setmetatable({}, {__mode = "k"})    -- object -> its queue

  -- The slow path of a call through a proxy: a call made with a dot, or a
  -- method that is not a plain function. Returns the method or raises.
  local function checked(proxy, self, name, f)
    if self ~= proxy then
      error(("deferred call: use m.%s:%s(...), with a colon")
        :format(proxy[4] and "sync" or "oneway", name), 3)
    end
    if not callable(f) then
      error(("deferred call: the object has no method '%s'"):format(name), 3)
    end
    return f
  end

  -- The functions `m.sync.name` and `m.oneway.name`: proxy slots are
  -- [1] queue, [2] object, [3] timeout (sync only), [4] true for sync. The
  -- method is looked up at each call.
  local function make_caller(proxy, name)
    local q, obj, timeout, sync = proxy[1], proxy[2], proxy[3], proxy[4]
    if not sync then
      return function(self, ...)
        local f = obj[name]
        if self ~= proxy or type(f) ~= "function" then f = checked(proxy, self, name, f) end
        return q:post(name, f, obj, ...)
      end
    elseif timeout == nil then
      return function(self, ...)
        local f = obj[name]
        if self ~= proxy or type(f) ~= "function" then f = checked(proxy, self, name, f) end
        return q:call(name, f, obj, ...)
      end
    end
    return function(self, ...)
      local f = obj[name]
      if self ~= proxy or type(f) ~= "function" then f = checked(proxy, self, name, f) end
      local t <close> = start_timeout(timeout)
      return q:call(name, f, obj, ...)
    end
  end

  local Proxy = {}

  function Proxy.__index(proxy, name)
    if type(name) ~= "string" then return nil end
    local f = make_caller(proxy, name)
    rawset(proxy, name, f)
    return f
  end

  --- `m:sync{timeout = s}`: sync calls that raise a `green.Timeout` after
  -- `s` seconds. A call that has not started by then is withdrawn and never
  -- runs; one already running finishes on the processor and its results
  -- are dropped. A caller killed while it waits is treated the same way.
  function Proxy.__call(proxy, owner, opts)
    if not proxy[4] or owner ~= proxy[2] then
      error("deferred call: options go with m:sync{timeout = seconds}", 2)
    end
    args.check_options(opts, 1, "sync", SYNC_OPTIONS)
    local timeout = opts.timeout
    if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
      error("bad argument #1 to 'sync' (timeout must be a number >= 0)", 2)
    end
    return setmetatable({proxy[1], proxy[2], timeout, true}, Proxy)
  end

  --- Base class of deferred call handlers: inherit from it and call
  -- `green.DeferredCallHandler.init(self)` in the constructor, or pass any
  -- table to `green.deferred`.
  local Handler = {}
  Handler.__index = Handler
  Handler.__name = "DeferredCallHandler"
  green.DeferredCallHandler = Handler

  local function queue_of(obj, what)
    local q = queues[obj]
    if q == nil then
      error(what .. ": the object is not a deferred call handler " ..
        "(make it one with green.deferred(obj))", 3)
    end
    return q
  end

  --- Run the pending calls on the calling greenlet, in the order they
  -- arrived, and return how many ran. Options: `forever` (keep waiting for
  -- calls until `stop_processing`), `whitelist` (a list of method names:
  -- only those run; the others stay queued, in order, for a later
  -- `process`). A sync call's error is raised in its caller, with this
  -- side's traceback in the message; a one-way call's goes to the
  -- `green.on_error` handler. `GreenletExit` and Timeouts raised inside a
  -- call stop processing and are raised again here (its sync caller gets an
  -- error saying the call was interrupted). Raises if another greenlet is
  -- processing, or if called from inside a call being processed.
  function Handler:process(opts)
    local q = queue_of(self, "process")
    if opts == nil then return q:process(false) end
    args.check_options(opts, 1, "process", PROCESS_OPTIONS)
    return q:process(opts.forever, opts.whitelist)
  end

  --- End the running `process` once its current call returns; if none
  -- runs, the next `process` returns at once without running anything.
  function Handler:stop_processing()
    queue_of(self, "stop_processing"):stop()
  end

  local function check_free(obj, name)
    local v = obj[name]
    if v ~= nil and v ~= Handler[name] then
      error(("bad argument #1 to 'deferred' (the object already has a " ..
        "field '%s')"):format(name), 3)
    end
  end

  --- Make `obj` (any table or class instance) a deferred call handler, and
  -- return it: it gains the fields `sync` and `oneway` and, unless it
  -- inherits them from `green.DeferredCallHandler`, `process` and
  -- `stop_processing`.
  function green.deferred(obj)
    if type(obj) ~= "table" then
      error("bad argument #1 to 'deferred' (table expected, got " ..
        type(obj) .. ")", 2)
    end
    if queues[obj] ~= nil then return obj end
    for _, name in pairs{"sync", "oneway", "process", "stop_processing"} do
      check_free(obj, name)
    end
    local q = DeferredQueue()
    queues[obj] = q
    rawset(obj, "sync", setmetatable({q, obj, nil, true}, Proxy))
    rawset(obj, "oneway", setmetatable({q, obj, nil, false}, Proxy))
    if obj.process == nil then rawset(obj, "process", Handler.process) end
    if obj.stop_processing == nil then
      rawset(obj, "stop_processing", Handler.stop_processing)
    end
    return obj
  end

  --- Make an instance of a subclass a handler; returns it.
  function Handler.init(self)
    return green.deferred(self)
  end
end
