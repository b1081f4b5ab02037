-- Lua's memory as the memory specs compare it.
local green = require "green"
local M = {}

--- Collect until the pool of idle Lua threads is empty, then return Lua's
-- memory in KiB. The pool lets go of half its threads each cycle, so how
-- many it holds depends on when cycles ran, and would otherwise be counted
-- as growth (up to 1024 threads).
function M.settle()
  for _ = 1, 40 do
    collectgarbage()
    if green.stats().lua_threads_idle == 0 then break end
  end
  collectgarbage()
  return collectgarbage("count")
end

return M
