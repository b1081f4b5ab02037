-- Lua greenlets against Lua coroutines, in one run:
--   sleep(0) ping-pong between two greenlets, per switch, against two
--   coroutines driven round-robin by resume/yield, per switch;
--   spawn + finish of an empty greenlet against coroutine.create + resume,
--   with spawn_raw (the cheapest) and with green.spawn (what most code
--   calls: it also records the spawn tree and keeps results).
-- Each figure is the median of 7 runs; the runs of a greenlet figure and
-- of its coroutine baseline take turns (bench/lib/paired.lua).
local green = require "green"
package.path = "bench/lib/?.lua;" .. package.path
local paired = require "paired"

-- Each player counts its own turns in a numeric for, as the coroutine
-- driver below does: per switch, one loop step and one call on both sides.
local function greenlet_pingpong(n)
  local sleep = green.sleep
  local function player()
    for _ = 1, n // 2 do sleep(0) end
  end
  local a, b = green.spawn(player), green.spawn(player)
  a:join(); b:join()
end

-- The leanest round-robin: each handoff from one coroutine to the other
-- is a yield to the scheduler loop and a resume of the other.
local function coroutine_roundrobin(n)
  local yield, resume = coroutine.yield, coroutine.resume
  local function player() while true do yield() end end
  local a, b = coroutine.create(player), coroutine.create(player)
  for _ = 1, n // 2 do resume(a); resume(b) end
end

local function empty() end

-- Spawn and finish one greenlet at a time, as coroutine.create + resume
-- does with a coroutine.
local function greenlet_spawns(n)
  local spawn_raw = green.spawn_raw
  for _ = 1, n do spawn_raw(empty):join() end
end

local function greenlet_full_spawns(n)
  local spawn = green.spawn
  for _ = 1, n do spawn(empty):join() end
end

-- Many alive at once: batches of 1000 spawned, then all run.
local function greenlet_batches(n)
  local spawn_raw = green.spawn_raw
  for _ = 1, n // 1000 do
    local last
    for _ = 1, 1000 do last = spawn_raw(empty) end
    last:join()
  end
end

local function coroutine_spawns(n)
  local create, resume = coroutine.create, coroutine.resume
  for _ = 1, n do resume(create(empty)) end
end

local g_switch, c_switch = paired(greenlet_pingpong, coroutine_roundrobin, 1000000)
local g_spawn, c_spawn = paired(greenlet_spawns, coroutine_spawns, 200000)
local g_full, c_full = paired(greenlet_full_spawns, coroutine_spawns, 200000)
-- lua5.4 runs scripts with the generational collector; a C host's
-- luaL_newstate gives the incremental one. Coroutines, made and dropped
-- young, gain more from the generational mode than greenlets, whose Lua
-- threads are pooled; the same pair, timed again in the host's mode.
collectgarbage("incremental")
local g_spawn_inc, c_spawn_inc = paired(greenlet_spawns, coroutine_spawns, 200000)
collectgarbage("generational")
-- The batches leave a thousand idle Lua threads for reuse, and the
-- collector walks every thread at each cycle, which would slow the
-- coroutines timed in turn and flatter the ratio. So before every run the
-- pool is left to decay (green lets go of half its idle threads at each
-- cycle) and the threads are freed: each run of batches starts by making
-- its threads.
local function drain_thread_pool()
  repeat collectgarbage() until green.stats().lua_threads_idle == 0
  collectgarbage()
end
local g_batch, c_batch = paired(greenlet_batches, coroutine_spawns, 200000,
                                drain_thread_pool)
print(string.format("lua switch   greenlet sleep(0) %6.1f ns   coroutine resume/yield %6.1f ns   ratio %.2fx   (target <= 0.5x)",
  g_switch, c_switch, g_switch / c_switch))
print(string.format("lua spawn    spawn_raw(f):join() %7.1f ns   coroutine.create+resume %7.1f ns   ratio %.2fx   (target <= 1.0x)",
  g_spawn, c_spawn, g_spawn / c_spawn))
print(string.format("lua spawn    green.spawn(f):join() %7.1f ns   coroutine.create+resume %7.1f ns   ratio %.2fx",
  g_full, c_full, g_full / c_full))
print(string.format("lua spawn    greenlets in batches of 1000 %7.1f ns each   coroutine.create+resume %7.1f ns   ratio %.2fx",
  g_batch, c_batch, g_batch / c_batch))
print(string.format("lua spawn    incremental collector, as in a C host: greenlet %7.1f ns   coroutine %7.1f ns   ratio %.2fx",
  g_spawn_inc, c_spawn_inc, g_spawn_inc / c_spawn_inc))
