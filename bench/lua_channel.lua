-- A value handed back and forth through a Channel between two greenlets,
-- against two Lua coroutines passing a value through resume/yield, in one
-- run. Each figure is per handoff, the median of 7 runs taken in turns
-- with its baseline (bench/lib/paired.lua).
--
-- A third figure is the floor of any method-call API: each handoff costs
-- a put and a get, so it times two calls of a method that does nothing
-- (q:closed()) against the same coroutine handoff.
local green = require "green"
package.path = "bench/lib/?.lua;" .. package.path
local paired = require "paired"

-- Ping sends n // 2 values on one channel; pong answers each on another:
-- n handoffs, each one greenlet waking the other.
local function channel_pingpong(n)
  local there, back = green.Channel(), green.Channel()
  local pong = green.spawn(function()
    for _ = 1, n // 2 do back:put(there:get() + 1) end
  end)
  local value = 0
  for _ = 1, n // 2 do
    there:put(value)
    value = back:get()
  end
  pong:join()
  assert(value == n // 2)
end

-- The coroutine passes the value back with yield, the driver with resume:
-- also n handoffs.
local function coroutine_pingpong(n)
  local resume, yield = coroutine.resume, coroutine.yield
  local co = coroutine.create(function(value)
    while true do value = yield(value + 1) end
  end)
  local value = 0
  for _ = 1, n // 2 do
    local _, v = resume(co, value)
    value = v
  end
  assert(value == n // 2)
end

-- n "handoffs" of two method calls each, with no handoff in them.
local function method_calls(n)
  local q = green.Channel()
  for _ = 1, n do q:closed(); q:closed() end
end

local g, c = paired(channel_pingpong, coroutine_pingpong, 1000000)
local floor, c2 = paired(method_calls, coroutine_pingpong, 1000000)
print(string.format("lua channel  greenlet handoff %6.1f ns   coroutine resume/yield %6.1f ns   ratio %.2fx   (target <= 1.0x)",
  g, c, g / c))
print(string.format("lua channel  floor: two empty method calls %6.1f ns   ratio %.2fx to the same coroutine handoff",
  floor, floor / c2))
