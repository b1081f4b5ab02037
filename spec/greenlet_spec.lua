local green = require "green"

-- Run fn in a greenlet and return what it returned (or raise its error).
local function in_greenlet(fn, ...)
  return green.spawn(fn, ...):get()
end

describe("green.spawn", function()
  it("runs the function once the spawner blocks, and keeps its results", function()
    local ran = false
    local g = green.spawn(function(name, n)
      ran = true
      return name .. " done", n
    end, "worker", 10)
    assert.is_false(ran)
    local a, b = g:get()
    assert.equals("worker done", a)
    assert.equals(10, b)
    assert.is_true(g:ready())
    assert.is_true(g:successful())
    assert.equals("worker done", g.value)
  end)

  it("starts new greenlets in FIFO order", function()
    local order = {}
    local gs = {}
    for i = 1, 5 do gs[i] = green.spawn(function() order[#order + 1] = i end) end
    for i = 1, 5 do gs[i]:join() end
    assert.same({1, 2, 3, 4, 5}, order)
  end)

  it("runs spawn_later greenlets after the delay, in deadline order", function()
    local order = {}
    local late = green.spawn_later(0.02, function() order[#order + 1] = "late" end)
    local soon = green.spawn_later(0.001, function() order[#order + 1] = "soon" end)
    late:join()
    soon:join()
    assert.same({"soon", "late"}, order)
  end)

  it("runs a greenlet nobody references to completion", function()
    local done = false
    green.spawn_raw(function() green.sleep(0.001); done = true end)
    collectgarbage()
    collectgarbage()
    green.sleep(0.01)
    assert.is_true(done)
  end)

  it("lets a finished greenlet's handle and results be collected", function()
    local weak = setmetatable({}, {__mode = "v"})
    do
      local g = green.spawn(function() return {} end)
      weak.result = g:get()
      weak.handle = g
      local raw = green.spawn_raw(function() end)
      raw:join()
      weak.raw = raw
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak.handle)
    assert.is_nil(weak.result)
    assert.is_nil(weak.raw)
  end)

  it("keeps the handle of a running greenlet nobody references", function()
    local weak = setmetatable({}, {__mode = "v"})
    local go = green.Event()
    local seen
    weak.handle = green.spawn(function()
      go:wait()
      seen = green.getcurrent()
    end)
    collectgarbage()
    collectgarbage()
    assert.is_not_nil(weak.handle)
    local handle = weak.handle
    go:set()
    handle:join()
    assert.equals(handle, seen)
  end)

  it("names greenlets and shows them with tostring", function()
    local g = green.spawn(function() green.sleep(0) end)
    g.name = "worker"
    assert.equals("worker", g.name)
    assert.matches('^Greenlet "worker" %(not started%)$', tostring(g))
    g:join()
    assert.matches('%(dead%)$', tostring(g))
    assert.has_error(function() g.other = 1 end, "cannot set field 'other' of a greenlet")
  end)

  it("gives a raw greenlet the same fields and methods as any other", function()
    -- A raw greenlet's handle starts with no fields, and with a metatable
    -- that indexes its methods directly; it must not show the difference.
    local named = green.spawn_raw(green.sleep, 0)
    assert.is_nil(named.name)
    assert.is_nil(named.value)
    assert.is_false(named:ready())
    named.name = "raw worker"
    assert.equals("raw worker", named.name)
    assert.matches('^Greenlet "raw worker" %(not started%)$', tostring(named))
    assert.has_error(function() named.other = 1 end, "cannot set field 'other' of a greenlet")
    assert.is_true(named:join())
    assert.is_true(named:successful())
    assert.is_nil(named.value)                -- a raw greenlet keeps no results

    local previous = green.on_error(function() end)
    local failed = green.spawn_raw(error, {code = 7})
    failed:join()
    green.on_error(previous)
    assert.is_false(failed:successful())
    assert.same({code = 7}, failed.exception)
    assert.matches("stack traceback", failed.traceback)

    local linked, seen = green.spawn_raw(function() end), nil
    linked:link(function(g) seen = g end)
    linked:join()
    green.idle()
    assert.equals(linked, seen)
    assert.is_nil(linked.exception)
    assert.is_nil(green.spawn_raw(print).spawner)
    assert.equals(getmetatable(green.spawn(print)).__name, getmetatable(named).__name)
  end)

  it("spawns and links any callable, as gevent does", function()
    local calls = {}
    local callable = setmetatable({}, {__call = function(self, a, b)
      calls[#calls + 1] = {self, a, b}
      return a + b
    end})
    local g = green.spawn(callable, 1, 2)
    assert.equals(3, g:get())
    assert.same({{callable, 1, 2}}, calls)
    local later = green.spawn_later(0, callable, 3, 4)
    later:join()
    assert.same({callable, 3, 4}, calls[2])
    local dead = {}
    local link = setmetatable({}, {__call = function(_, g) dead[#dead + 1] = g end})
    local linked = green.spawn(function() end)
    linked:link(link)
    local unlinked = green.spawn(function() end)
    unlinked:link(link)
    unlinked:unlink(link)
    linked:join()
    unlinked:join()
    green.idle()                            -- links run in greenlets of their own
    assert.same({linked}, dead)
  end)

  it("rejects bad arguments with Lua's standard message", function()
    assert.has_error(function() green.spawn(nil) end,
      "bad argument #1 to 'spawn' (function expected, got nil)")
    assert.has_error(function() green.spawn({}) end,
      "bad argument #1 to 'spawn' (function expected, got table)")
    assert.has_error(function() green.spawn(print):link(42) end,
      "bad argument #1 to 'link' (function expected, got number)")
    assert.has_error(function() green.spawn_later(-1, print) end,
      "bad argument #1 to 'spawn_later' (must not be negative)")
    assert.has_error(function() green.sleep(-1) end,
      "bad argument #1 to 'sleep' (must not be negative)")
    assert.has_error(function() green.spawn(print):join(-1) end,
      "bad argument #1 to 'join' (must not be negative)")
  end)
end)

describe("Greenlet:get", function()
  it("re-raises the greenlet's error, and keeps it with its traceback", function()
    local previous = green.on_error(function() end)
    local g = green.spawn(function() error({code = 7}) end)
    local ok, err = pcall(g.get, g)
    green.on_error(previous)
    assert.is_false(ok)
    assert.same({code = 7}, err)
    assert.is_false(g:successful())
    assert.equals(err, g.exception)
    assert.matches("stack traceback", g.traceback)
  end)

  it("returns nil, \"timeout\" when the time runs out", function()
    local g = green.spawn(green.sleep, 10)
    assert.same({nil, "timeout"}, {g:get(0.01)})
    assert.same({nil, "timeout"}, {g:join(0)})
    g:kill()
  end)
end)

describe("errors nobody handles", function()
  it("are reported once through on_error and stop nothing else", function()
    local reports = {}
    local previous = green.on_error(function(g, err, tb)
      reports[#reports + 1] = {g = g, err = err, tb = tb}
    end)
    local other_done = false
    local bad = green.spawn(function() error("boom") end)
    local other = green.spawn(function() green.sleep(0.001); other_done = true end)
    bad:join()
    other:join()
    green.on_error(previous)
    assert.equals(1, #reports)
    assert.equals(bad, reports[1].g)
    assert.matches("boom", reports[1].err)
    assert.matches("stack traceback", reports[1].tb)
    assert.is_true(other_done)
  end)
end)

describe("green.kill", function()
  it("raises GreenletExit in a sleeping greenlet, which counts as success", function()
    local caught
    local g = green.spawn(function()
      local ok, err = pcall(green.sleep, 10)
      caught = err
      error(err)                        -- unwinds like any error
    end)
    green.sleep(0)
    g:kill()                            -- blocks until it is dead
    assert.is_true(g:dead())
    assert.equals(green.GreenletExit, caught)
    assert.is_true(g:successful())
    assert.equals(green.GreenletExit, g:get())
    assert.equals("GreenletExit", tostring(green.GreenletExit))
  end)

  it("raises the given error instead", function()
    local previous = green.on_error(function() end)
    local g = green.spawn(green.sleep, 10)
    green.sleep(0)
    green.kill(g, "stop now")
    green.on_error(previous)
    assert.is_false(g:successful())
    assert.equals("stop now", g.exception)
  end)

  it("never runs a greenlet killed before it started", function()
    local ran = false
    local g = green.spawn(function() ran = true end)
    g:kill()
    green.sleep(0.001)
    assert.is_false(ran)
    assert.is_true(g:dead())
    assert.equals(green.GreenletExit, g:get())
  end)

  it("cancels only greenlets that have not started", function()
    local g = green.spawn(green.sleep, 0.001)
    assert.is_true(g:cancel())
    local h = green.spawn(green.sleep, 0.001)
    green.sleep(0)
    assert.is_false(h:cancel())
    h:join()
  end)

  it("raises at once when a greenlet kills itself", function()
    local after = false
    local g = green.spawn(function()
      green.getcurrent():kill()
      after = true
    end)
    g:join()
    assert.is_false(after)
    assert.is_true(g:successful())
  end)

  it("does not block with block = false", function()
    local g = green.spawn(green.sleep, 10)
    green.sleep(0)
    g:kill(nil, {block = false})
    assert.is_false(g:dead())
    g:join()
    assert.is_true(g:dead())
  end)
end)

describe("links", function()
  it("call linked functions with the dead greenlet, by kind", function()
    local calls = {}
    local previous = green.on_error(function() end)
    local good = green.spawn(function() return 1 end)
    local bad = green.spawn(function() error("no") end)
    for _, g in ipairs({good, bad}) do
      g:link(function(x) calls[#calls + 1] = {"any", x} end)
      g:link_value(function(x) calls[#calls + 1] = {"value", x} end)
      g:link_exception(function(x) calls[#calls + 1] = {"exception", x} end)
    end
    local removed = function() calls[#calls + 1] = {"removed"} end
    good:link(removed)
    good:unlink(removed)
    good:join()
    bad:join()
    green.sleep(0.001)
    green.on_error(previous)
    assert.same({{"any", good}, {"value", good}, {"any", bad}, {"exception", bad}}, calls)
  end)
end)

describe("green.getcurrent", function()
  it("is the greenlet itself inside one, and a main greenlet outside", function()
    local inside
    local g = green.spawn(function() inside = green.getcurrent() end)
    g:join()
    assert.equals(g, inside)
    assert.equals(green.getcurrent(), green.getcurrent())
    assert.equals("main", green.getcurrent().name)
  end)
end)

describe("green.idle", function()
  it("returns once no other greenlet is ready", function()
    local log = {}
    green.spawn(function()
      for i = 1, 3 do log[#log + 1] = i; green.sleep(0) end
    end)
    green.idle()
    log[#log + 1] = "idle"
    assert.same({1, 2, 3, "idle"}, log)
  end)
end)

describe("the switch interval", function()
  it("can be read and set", function()
    local before = green.getswitchinterval()
    green.setswitchinterval(0.001)
    assert.near(0.001, green.getswitchinterval(), 1e-9)
    green.setswitchinterval(before)
    assert.has_error(function() green.setswitchinterval(0) end)
  end)
end)

return in_greenlet
