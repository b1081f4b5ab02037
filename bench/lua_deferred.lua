-- A deferred sync call round trip (caller -> processing greenlet -> caller)
-- against the same round trip through two Channels, in one run. Each
-- figure is per round trip (two handoffs), the median of 7 runs taken in
-- turns with the other's.
local green = require "green"
package.path = "bench/lib/?.lua;" .. package.path
local paired = require "paired"

-- The processor runs each call with process{forever = true}.
local function deferred_roundtrips(n)
  local counter = green.deferred({value = 0})
  function counter:add(x) self.value = self.value + x; return self.value end
  local processor = green.spawn(counter.process, counter, {forever = true})
  local value = 0
  for _ = 1, n do value = counter.sync:add(1) end
  counter:stop_processing()
  processor:join()
  assert(value == n)
end

-- The server answers each request on the other channel.
local function channel_roundtrips(n)
  local requests, replies = green.Channel(), green.Channel()
  local server = green.spawn(function()
    local value = 0
    for _ = 1, n do value = value + requests:get(); replies:put(value) end
  end)
  local value = 0
  for _ = 1, n do
    requests:put(1)
    value = replies:get()
  end
  server:join()
  assert(value == n)
end

local d, c = paired(deferred_roundtrips, channel_roundtrips, 200000)
print(string.format("lua deferred sync call round trip %6.1f ns   channel request/reply %6.1f ns   ratio %.2fx",
  d, c, d / c))
