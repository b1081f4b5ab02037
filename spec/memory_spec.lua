-- Finished greenlets give back their stack and Lua thread: a million
-- spawn/finish cycles leave Lua's memory and the runtime's counters flat.
local green = require "green"

local function settle()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count")
end

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
