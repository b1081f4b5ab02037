-- A value handed back and forth through a Channel between two greenlets,
-- against the same through a Channel object of a pure-Lua coroutine
-- scheduler, and against two Lua coroutines passing a value through
-- resume/yield, in one run. Each figure is per handoff, the median of 7 runs taken in turns
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

-- The same ping-pong on a lean pure-Lua scheduler: coroutines in a FIFO
-- ready queue, resumed with the value handed to them, and a Channel
-- object whose put and get are method calls, each side waiting in a FIFO
-- of its own (as green's do) kept in arrays, so a handoff makes no table.
local function scheduler_pingpong(n)
  local yield, resume, running = coroutine.yield, coroutine.resume,
                                 coroutine.running
  local ready, values, first, last = {}, {}, 1, 0
  local function wake(co, value)
    last = last + 1
    ready[last], values[last] = co, value
  end
  local Channel = {}
  Channel.__index = Channel
  local function channel()
    return setmetatable({getters = {}, gfirst = 1, glast = 0,
                         putters = {}, pvalues = {}, pfirst = 1, plast = 0},
                        Channel)
  end
  function Channel:put(value)
    if self.gfirst <= self.glast then
      local getter = self.getters[self.gfirst]
      self.getters[self.gfirst] = nil
      self.gfirst = self.gfirst + 1
      wake(getter, value)
      return
    end
    self.plast = self.plast + 1
    self.putters[self.plast], self.pvalues[self.plast] = running(), value
    yield()
  end
  function Channel:get()
    if self.pfirst <= self.plast then
      local i = self.pfirst
      local putter, value = self.putters[i], self.pvalues[i]
      self.putters[i], self.pvalues[i] = nil, nil
      self.pfirst = i + 1
      wake(putter)
      return value
    end
    self.glast = self.glast + 1
    self.getters[self.glast] = running()
    return yield()
  end
  local there, back = channel(), channel()
  local value = 0
  wake(coroutine.create(function()
    for _ = 1, n // 2 do back:put(there:get() + 1) end
  end))
  wake(coroutine.create(function()
    for _ = 1, n // 2 do
      there:put(value)
      value = back:get()
    end
  end))
  while first <= last do
    local co, v = ready[first], values[first]
    ready[first], values[first] = nil, nil
    first = first + 1
    assert(resume(co, v))
  end
  assert(value == n // 2)
end

-- n "handoffs" of two method calls each, with no handoff in them.
local function method_calls(n)
  local q = green.Channel()
  for _ = 1, n do q:closed(); q:closed() end
end

local g, c = paired(channel_pingpong, coroutine_pingpong, 1000000)
local g2, s = paired(channel_pingpong, scheduler_pingpong, 1000000)
local floor, c2 = paired(method_calls, coroutine_pingpong, 1000000)
print(string.format("lua channel  greenlet handoff %6.1f ns   pure-Lua coroutine scheduler with a Channel object %6.1f ns   ratio %.2fx   (target <= 0.5x)",
  g2, s, g2 / s))
print(string.format("lua channel  greenlet handoff %6.1f ns   raw coroutine resume/yield %6.1f ns   ratio %.2fx",
  g, c, g / c))
print(string.format("lua channel  floor: two empty method calls %6.1f ns   ratio %.2fx to the same coroutine handoff",
  floor, floor / c2))
