-- Resident memory per idle Lua greenlet, 100,000 of them blocked on timers,
-- against the memory per suspended coroutine (baseline), in the same run.
local green = require "green"
local N = 100000

local function rss_kib()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4                  -- 4 KiB pages
end

-- Page tables are not in RSS, but each touched stack top needs its share
-- of one, which grows with the stack size.
local function page_tables_kib()
  local f = assert(io.open("/proc/self/status"))
  local kib = f:read("a"):match("VmPTE:%s*(%d+)")
  f:close()
  return tonumber(kib)
end

local function settle() collectgarbage(); collectgarbage() end

-- Coroutines first, kept alive while the greenlets are measured, so that
-- neither reuses memory the other freed.
settle()
local before_co = rss_kib()
local cos = {}
for i = 1, N do
  cos[i] = coroutine.create(function() coroutine.yield() end)
  coroutine.resume(cos[i])
end
settle()
local per_coroutine = (rss_kib() - before_co) / N

local before, before_pte = rss_kib(), page_tables_kib()
local gs = {}
for i = 1, N do gs[i] = green.spawn(green.sleep, 3600) end
green.idle()                           -- every one has started and blocked
settle()
local per_greenlet = (rss_kib() - before) / N
local pte_per_greenlet = (page_tables_kib() - before_pte) / N
green.killall(gs)

print(string.format("lua rss      idle greenlet %5.2f KiB   suspended coroutine %5.2f KiB   (target < 5.6 KiB)",
  per_greenlet, per_coroutine))
print(string.format("lua ptes     idle greenlet %5.2f KiB of page tables beside its RSS",
  pte_per_greenlet))
