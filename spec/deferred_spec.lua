-- green.deferred and green.DeferredCallHandler: the deferred calls of
-- ../shared/seeds/004 (gevent_async), each of its examples in Lua.
local green = require "green"

-- A class in the usual Lua style.
local function class(base)
  local c = setmetatable({}, {__index = base})
  c.__index = c
  return c
end

-- Report one-way failures to a list for the duration of fn.
local function with_reports(fn)
  local reports = {}
  local previous = green.on_error(function(g, err, traceback)
    reports[#reports + 1] = {g = g, err = err, traceback = traceback}
  end)
  local ok, err = pcall(fn, reports)
  green.sleep(0)                    -- handlers run in greenlets of their own
  green.on_error(previous)
  assert(ok, err)
  return reports
end

describe("green.deferred, the seed's examples", function()
  it("a Manager handles its resources atomically; monitors post one-way, " ..
     "a consumer calls synchronously", function()
    local Manager = class(green.DeferredCallHandler)
    function Manager.new()
      return green.DeferredCallHandler.init(setmetatable(
        {resources = {}, managing = false, manages = 0}, Manager))
    end
    function Manager:manage()
      self.managing = true
      green.sleep(0)                  -- other greenlets run meanwhile
      self.managing = false
      self.manages = self.manages + 1
      self:process()                  -- process pending calls
    end
    function Manager:access_resources()
      assert(not self.managing, "accessed in the middle of a management")
      local copy = {}
      for k, v in pairs(self.resources) do copy[k] = v end
      return copy
    end
    function Manager:update_resource(data)
      assert(not self.managing, "updated in the middle of a management")
      self.resources[data.name] = data.value
    end
    function Manager:run()
      while true do self:manage() end
    end

    local manager = Manager.new()
    local runner = green.spawn(manager.run, manager)
    local function monitor(name)
      for value = 1, 20 do
        manager.oneway:update_resource({name = name, value = value})
        green.sleep(0)
      end
    end
    local monitors = {}
    for _, name in ipairs{"disk", "net", "cpu"} do
      monitors[#monitors + 1] = green.spawn(monitor, name)
    end
    local seen = 0
    while seen < 3 do                 -- the consumer
      local resources = manager.sync:access_resources()
      seen = 0
      for _, value in pairs(resources) do
        if value == 20 then seen = seen + 1 end
      end
    end
    green.joinall(monitors, {raise_error = true})
    assert.same({disk = 20, net = 20, cpu = 20}, manager.sync:access_resources())
    assert.is_true(manager.manages > 0)
    runner:kill()
  end)

  it("a Lemming's sync kaboom raises in the caller; a one-way kaboom is " ..
     "reported with its traceback", function()
    local Lemming = class(green.DeferredCallHandler)
    function Lemming.new()
      return green.DeferredCallHandler.init(setmetatable({}, Lemming))
    end
    function Lemming:kaboom()
      error("#high pitched# oh no!")
    end
    local lemming = Lemming.new()
    local processor = green.spawn(lemming.process, lemming, {forever = true})
    local reports = with_reports(function()
      local ok, err = pcall(function() lemming.sync:kaboom() end)
      assert.is_false(ok)
      assert.matches("#high pitched# oh no!", err, 1, true)
      assert.matches("in the processing greenlet", err, 1, true)
      assert.matches("in function 'error'", err, 1, true)
      lemming.oneway:kaboom()         -- returns at once
      green.sleep(0.01)
    end)
    assert.equals(1, #reports)
    assert.matches("#high pitched# oh no!", reports[1].err, 1, true)
    assert.matches("stack traceback", reports[1].traceback, 1, true)
    assert.equals(processor, reports[1].g)
    lemming:stop_processing()
    assert.is_true(processor:join(1))
    assert.is_true(processor:successful())
  end)

  it("regular function calls stay plain calls; sync ones wait for the " ..
     "management to finish", function()
    local m = green.deferred({state = "stable"})
    function m:manage()
      self.state = "managing"
      green.sleep(0.02)
      self.state = "stable"
      self:process()
    end
    function m:access_resources() return self.state end
    local runner = green.spawn(function() while true do m:manage() end end)
    green.sleep(0.01)
    assert.equals("managing", m:access_resources())  -- at your own risk
    assert.equals("stable", m.sync:access_resources())
    runner:kill()
  end)

  it("a sync call with a timeout raises a green.Timeout", function()
    local slow = green.deferred({})
    function slow:taking_my_time()
      green.sleep(10)
      self.finished = true
    end
    local processor = green.spawn(slow.process, slow, {forever = true})
    local t0 = green.now()
    local ok, err = pcall(function()
      return slow:sync{timeout = 0.05}:taking_my_time()
    end)
    assert.is_false(ok)
    assert.is_true(green.is_timeout(err))
    assert.is_true(green.now() - t0 < 5)   -- not the 10 s the call takes
    processor:kill()
    assert.is_nil(slow.finished)
  end)
end)

describe("green.deferred", function()
  local m, order, processor

  before_each(function()
    order = {}
    m = green.deferred({})
    function m:note(x) order[#order + 1] = x; return x end
    function m:values() return 1, nil, "three", nil end
  end)

  after_each(function()
    if processor then processor:kill() end
    processor = nil
  end)

  it("returns the object, which gains sync, oneway, process and " ..
     "stop_processing", function()
    local obj = {}
    assert.equals(obj, green.deferred(obj))
    assert.equals(obj, green.deferred(obj))   -- once is enough
    assert.is_table(obj.sync)
    assert.is_table(obj.oneway)
    assert.is_function(obj.process)
    assert.is_function(obj.stop_processing)
  end)

  it("runs nothing until processed, then every call in arrival order", function()
    local callers = {}
    for i = 1, 6 do
      if i % 2 == 0 then
        callers[#callers + 1] = green.spawn(function() return m.sync:note(i) end)
      else
        m.oneway:note(i)
      end
      green.sleep(0)
    end
    assert.same({}, order)
    assert.equals(6, m:process())
    assert.same({1, 2, 3, 4, 5, 6}, order)
    for k, g in ipairs(callers) do assert.equals(2 * k, g:get()) end
    assert.equals(0, m:process())
  end)

  it("a sync call returns every result, nils included", function()
    processor = green.spawn(m.process, m, {forever = true})
    local results = table.pack(m.sync:values())
    assert.equals(4, results.n)
    assert.same({1, nil, "three", nil}, {results[1], results[2], results[3], results[4]})
    assert.same({n = 1}, table.pack(m.sync:note()))  -- no argument, nil back
  end)

  it("re-raises non-string errors as they are", function()
    local failure = setmetatable({}, {__tostring = function() return "failure" end})
    function m:fail() error(failure) end
    processor = green.spawn(m.process, m, {forever = true})
    local ok, err = pcall(m.sync.fail, m.sync)
    assert.is_false(ok)
    assert.equals(failure, err)
  end)

  it("with a whitelist, other calls stay queued in order for a later " ..
     "process", function()
    function m:other(x) order[#order + 1] = "other" .. x end
    m.oneway:other(1)
    m.oneway:note(1)
    m.oneway:other(2)
    m.oneway:note(2)
    assert.equals(2, m:process{whitelist = {"note"}})
    assert.same({1, 2}, order)
    assert.equals(2, m:process())
    assert.same({1, 2, "other1", "other2"}, order)
  end)

  it("process{forever = true} waits for calls until stop_processing", function()
    processor = green.spawn(m.process, m, {forever = true})
    green.sleep(0)
    m.oneway:note("a")
    assert.equals("b", m.sync:note("b"))
    m:stop_processing()
    assert.same({true, 2}, {processor:join(1), processor:get()})
    assert.same({"a", "b"}, order)
    processor = nil
  end)

  it("a stop with nobody processing ends the next process before it runs " ..
     "anything", function()
    m.oneway:note(1)
    m:stop_processing()
    assert.equals(0, m:process())
    assert.equals(1, m:process())
  end)

  it("a sync call that times out before it starts never runs", function()
    local ok, err = pcall(function() return m:sync{timeout = 0.01}:note("late") end)
    assert.is_false(ok)
    assert.is_true(green.is_timeout(err))
    assert.equals(0, m:process())
    assert.same({}, order)
  end)

  it("a sync call whose timeout fires while it runs: the caller gets the " ..
     "Timeout, the call finishes, its results are dropped", function()
    local gate = green.Event()
    function m:slow() gate:wait(); self.finished = true; return "dropped" end
    processor = green.spawn(m.process, m, {forever = true})
    local ok, err = pcall(function() return m:sync{timeout = 0.02}:slow() end)
    assert.is_false(ok)
    assert.is_true(green.is_timeout(err))
    assert.is_nil(m.finished)         -- still running
    gate:set()
    assert.equals("after", m.sync:note("after"))
    assert.is_true(m.finished)
  end)

  it("a caller killed while its call waits withdraws it", function()
    local caller = green.spawn(function() return m.sync:note("killed") end)
    local other = green.spawn(function() return m.sync:note("kept") end)
    green.sleep(0)
    caller:kill()
    assert.equals(1, m:process())     -- before the killed caller ran again
    assert.same({"kept"}, order)
    assert.equals("kept", other:get())
    assert.equals(green.GreenletExit, caller:get())
  end)

  it("a caller killed while its call runs leaves at once; the call " ..
     "finishes and its results are dropped", function()
    local gate = green.Event()
    function m:slow() gate:wait(); self.finished = true; return "dropped" end
    processor = green.spawn(m.process, m, {forever = true})
    local caller = green.spawn(function() return m.sync:slow() end)
    green.sleep(0.01)
    caller:kill()
    assert.is_true(caller:join(1))
    assert.equals(green.GreenletExit, caller:get())
    assert.is_nil(m.finished)
    gate:set()
    assert.equals("next", m.sync:note("next"))  -- the processor carried on
    assert.is_true(m.finished)
  end)

  it("a method the object does not have is an error at call time", function()
    assert.error_matches(function() m.sync:nosuch() end,
      "the object has no method 'nosuch'")
    assert.error_matches(function() m.oneway:nosuch() end,
      "the object has no method 'nosuch'")
    m.notafunction = 42
    assert.error_matches(function() m.oneway:notafunction() end,
      "no method 'notafunction'")
    assert.equals(0, m:process())
  end)

  it("callable tables are methods too", function()
    m.callable = setmetatable({}, {__call = function(_, self, x) return self == m, x end})
    processor = green.spawn(m.process, m, {forever = true})
    assert.same({true, 7}, {m.sync:callable(7)})
  end)

  it("process from inside a call it is processing is an error", function()
    function m:reenter() return self:process() end
    m.oneway:note(1)
    processor = green.spawn(m.process, m, {forever = true})
    local ok, err = pcall(function() m.sync:reenter() end)
    assert.is_false(ok)
    assert.matches("^process: called from inside a call it is processing", err)
  end)

  it("a sync call to the object from its own processing is an error", function()
    function m:call_self() return self.sync:note(1) end
    processor = green.spawn(m.process, m, {forever = true})
    local ok, err = pcall(function() m.sync:call_self() end)
    assert.is_false(ok)
    assert.matches("^deferred call 'note' made while processing the same " ..
      "object would wait for itself", err)
  end)

  it("a second greenlet may not process while one does", function()
    processor = green.spawn(m.process, m, {forever = true})
    green.sleep(0)
    assert.error_matches(function() m:process() end,
      "another greenlet is processing this object")
  end)

  it("process inside a __gc finalizer is an error", function()
    local result
    setmetatable({}, {__gc = function() result = {pcall(m.process, m)} end})
    collectgarbage()
    collectgarbage()
    assert.is_false(result[1])
    assert.matches("cannot block inside a __gc finalizer", result[2])
  end)

  it("a kill of the processor interrupts it; its sync caller is told", function()
    function m:slow() green.sleep(10) end
    processor = green.spawn(m.process, m, {forever = true})
    local caller = green.spawn(function() return m.sync:slow() end)
    local reports = with_reports(function()
      green.sleep(0.01)
      processor:kill()
      assert.is_true(processor:join(1))
      assert.is_true(caller:join(1))
    end)
    assert.equals(green.GreenletExit, processor:get())
    local ok, err = pcall(caller.get, caller)
    assert.is_false(ok)
    assert.matches("deferred call 'slow' was interrupted: the processing " ..
      "greenlet stopped with GreenletExit", err, 1, true)
    assert.equals(1, #reports)        -- the caller's failure, not the kill
    -- nothing is left half-done: processing works again
    processor = green.spawn(m.process, m, {forever = true})
    assert.equals(3, m.sync:note(3))
  end)

  it("a sync call that nothing will ever process fails instead of " ..
     "hanging", function()
    local ok, err = pcall(function() return m.sync:note(1) end)
    assert.is_false(ok)
    assert.matches("would block forever", err)
    assert.equals(0, m:process())     -- and it was withdrawn
  end)

  it("a kill of a processor waiting for calls ends process", function()
    processor = green.spawn(m.process, m, {forever = true})
    green.sleep(0)
    processor:kill()
    assert.is_true(processor:join(1))
    assert.equals(green.GreenletExit, processor:get())
  end)

  it("refuses bad input with clear errors", function()
    assert.error_matches(function() green.deferred(42) end,
      "bad argument #1 to 'deferred' %(table expected, got number%)")
    assert.error_matches(function() green.deferred({sync = true}) end,
      "the object already has a field 'sync'")
    assert.error_matches(function() m.sync.note(1) end, "with a colon")
    assert.error_matches(function() m:sync(5) end, "table of options expected")
    assert.error_matches(function() m:sync{timeuot = 1} end,
      "unknown option 'timeuot'")
    assert.error_matches(function() m:sync{timeout = -1} end, "timeout must be")
    assert.error_matches(function() m:oneway{} end, "m:sync{timeout = seconds}")
    assert.error_matches(function() m:process{forevr = true} end,
      "unknown option 'forevr'")
    assert.error_matches(function() m:process{whitelist = {1}} end,
      "whitelist item 1 is not a method name")
    assert.error_matches(function() green.DeferredCallHandler.process({}) end,
      "not a deferred call handler")
  end)
end)
