-- Finished greenlets give back their stack and Lua thread: a million
-- spawn/finish cycles leave Lua's memory and the runtime's counters flat.
local green = require "green"

local settle = require("spec.support.memory").settle

describe("a million greenlets, one after another", function()
  it("leave memory and the runtime's counters flat", function()
    local function work(i) return i end
    local function cycles(n)
      for _ = 1, n // 1000 do
        local last
        for i = 1, 1000 do last = green.spawn(work, i) end
        last:join()
      end
    end
    cycles(10000)                       -- pools filled
    local before_kib, before = settle(), green.stats()
    cycles(1000000)
    local after_kib, after = settle(), green.stats()
    assert.equals(0, after.alive)
    assert.equals(before.stacks_mapped, after.stacks_mapped)
    assert.equals(before.stack_maps, after.stack_maps)
    assert.equals(1000000, after.spawned - before.spawned)
    assert.is_true(after_kib - before_kib < 256,
      ("Lua memory grew by %.0f KiB"):format(after_kib - before_kib))
  end)
end)

-- Every collection cycle walks every Lua thread, idle or not, so the pool
-- of finished greenlets' threads lets go of the ones that stay idle.
describe("the Lua threads a burst of greenlets leaves idle", function()
  -- n greenlets alive at once, each on a thread of its own, then ended.
  local function burst(n)
    local go, last = green.Event(), nil
    for _ = 1, n do last = green.spawn_raw(function() go:wait() end) end
    green.sleep(0)
    go:set()
    last:join()
  end

  it("are as many as ran at once: greenlets that end at once share one", function()
    settle()
    local last
    for _ = 1, 1000 do last = green.spawn_raw(function() end) end
    last:join()
    assert.is_true(green.stats().lua_threads_idle <= 2,
      "idle threads after the burst: " .. green.stats().lua_threads_idle)
  end)

  it("are let go of, half at each collection cycle, and their memory freed", function()
    local before_kib = settle()
    burst(1000)
    local idle = green.stats().lua_threads_idle
    assert.is_true(idle >= 1000, "idle threads after the burst: " .. idle)
    collectgarbage()
    collectgarbage()
    local halved = green.stats().lua_threads_idle
    assert.is_true(halved < idle and halved >= idle // 8,
      ("idle threads: %d, then %d after two cycles"):format(idle, halved))
    for _ = 1, 20 do collectgarbage() end
    assert.equals(0, green.stats().lua_threads_idle)
    local after_kib = settle()
    assert.is_true(after_kib - before_kib < 200,
      ("Lua memory grew by %.0f KiB"):format(after_kib - before_kib))
  end)

  it("are let go of again once the pool has emptied and been refilled", function()
    for round = 1, 2 do
      burst(300)
      for _ = 1, 20 do collectgarbage() end
      assert.equals(0, green.stats().lua_threads_idle, "round " .. round)
    end
  end)

  it("keeps the threads that are reused between cycles", function()
    for _ = 1, 5 do
      burst(200)
      collectgarbage()
    end
    assert.is_true(green.stats().lua_threads_idle >= 200)
  end)
end)
