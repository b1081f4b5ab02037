local green = require "green"

describe("the spawn tree", function()
  it("links each greenlet to its spawner", function()
    local child, grandchild
    local parent = green.spawn(function()
      child = green.spawn(function()
        grandchild = green.spawn(function() end)
        grandchild:join()
      end)
      child:join()
    end)
    parent:join()
    assert.equals(parent, child.spawner)
    assert.equals(child, grandchild.spawner)
    assert.equals(green.getcurrent(), parent.spawner)
  end)

  it("does not keep a spawner alive", function()
    local weak = setmetatable({}, {__mode = "v"})
    local child
    local release = green.Event()
    weak.parent = green.spawn(function()
      child = green.spawn(function() release:wait() end)
    end)
    weak.parent:join()
    assert.equals(weak.parent, child.spawner)
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak.parent)
    assert.is_nil(child.spawner)
    release:set()
    child:join()
  end)

  it("takes a greenlet from spawn_raw as a spawner, with its locals", function()
    local child, seen
    local raw = green.spawn_raw(function()
      green.set_spawntree_local("owner", "raw")
      child = green.spawn(function() seen = green.get_spawntree_local("owner") end)
      child:join()
    end)
    raw:join()
    assert.equals(raw, child.spawner)
    assert.equals("raw", seen)
    assert.is_nil(raw.spawner)
    assert.is_nil(raw.spawned_at)
    assert.matches("^[^\n]*spawntree_spec.lua:%d+$", child.spawned_at)  -- its own site only
  end)

  it("keeps where a greenlet and its ancestors were spawned", function()
    local inner, inner_line
    local outer_line = debug.getinfo(1, "l").currentline + 1
    local outer = green.spawn(function()
      inner_line = debug.getinfo(1, "l").currentline + 1
      inner = green.spawn(function() end)
      inner:join()
    end)
    outer:join()
    local lines = {}
    for line in inner.spawned_at:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.matches("spawntree_spec.lua:" .. inner_line .. "$", lines[1])
    assert.matches("spawntree_spec.lua:" .. outer_line .. "$", lines[2])
  end)

  it("keeps the last ten spawn sites, so a chain of respawns stays small", function()
    -- Each greenlet spawns its successor and ends: a service restarting
    -- itself. Its record must not grow with the chain.
    local count, depth = 0, 20000
    local memory, sites = {}, nil
    local done = green.Event()
    local function step()
      count = count + 1
      -- Collected along the way, so that what a cycle would free never
      -- piles up (and grows the registry) when an earlier spec left the
      -- collector far from its next cycle.
      if count % 2000 == 0 then
        collectgarbage()
        collectgarbage()
        memory[count] = collectgarbage("count")
      end
      if count < depth then
        green.spawn(step)
      else
        sites = green.getcurrent().spawned_at
        done:set()
      end
    end
    green.spawn(step)
    done:wait()
    local lines = {}
    for line in sites:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equals(10, #lines)
    for i = 1, 9 do assert.matches("spawntree_spec.lua:%d+$", lines[i]) end
    -- A chain record would hold about 100 bytes per ancestor: 1.8 MB here.
    assert.is_true(memory[depth] - memory[2000] < 64,
      ("memory grew by %.0f KiB"):format(memory[depth] - memory[2000]))
  end)

  it("shares spawn-tree locals between a spawner and its descendants", function()
    local seen = {}
    local root = green.spawn(function()
      green.set_spawntree_local("request_id", 42)
      local child = green.spawn(function()
        seen.child = green.get_spawntree_local("request_id")
        green.set_spawntree_local("from_child", true)
        green.spawn(function()
          seen.grandchild = green.get_spawntree_local("request_id")
        end):join()
      end)
      child:join()
      seen.root_sees_child = green.get_spawntree_local("from_child")
    end)
    root:join()
    assert.same({child = 42, grandchild = 42, root_sees_child = true}, seen)
    -- As in gevent, every greenlet spawned by the main greenlet shares the
    -- main greenlet's table: a second tree under main sees it too.
    local other = green.spawn(function() return green.get_spawntree_local("request_id") end)
    assert.equals(42, other:get())
    green.set_spawntree_local("request_id", nil)
  end)

  it("rejects a nil name", function()
    assert.has_error(function() green.set_spawntree_local(nil, 1) end,
      "bad argument #1 to 'set_spawntree_local' (name must not be nil)")
  end)
end)

describe("green.run_info", function()
  it("describes every live greenlet: state, tree, spawn site, traceback", function()
    local parent_line = debug.getinfo(1, "l").currentline + 1
    local parent = green.spawn(function()
      local child = green.spawn(function() green.sleep(10) end)
      child.name = "sleepy child"
      child:join()
    end)
    green.idle()                        -- both have started and blocked
    local info = green.run_info()
    parent:kill()
    assert.matches('Greenlet "main" %(running%)', info)
    assert.matches('Greenlet "sleepy child" %(blocked%)\n  spawn tree: main > #%d+ > sleepy child', info)
    assert.matches("spawntree_spec.lua:" .. parent_line, info)
    assert.matches("in function '[%w.]*sleep'", info)   -- green.sleep or green.core.sleep
    assert.matches("in method 'join'", info)
  end)

  it("lists the main greenlet and the caller once each, from any greenlet", function()
    local caller = green.spawn(green.run_info)
    caller.name = "caller"
    local function wait_for_it() return caller:get() end
    local wait_line = debug.getinfo(1, "l").currentline - 1
    local info = wait_for_it()
    local function count(pattern)
      local n = 0
      for _ in info:gmatch(pattern) do n = n + 1 end
      return n
    end
    assert.equals(1, count('Greenlet "main" %(blocked%)'))
    assert.equals(1, count('Greenlet "caller" %(running%)'))
    -- Where the main greenlet waits: in wait_for_it, on the main thread.
    assert.matches("spawntree_spec.lua:" .. wait_line .. ": in [%w ]*'wait_for_it'", info)
  end)
end)
