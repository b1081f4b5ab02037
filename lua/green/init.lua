--- green: greenlets for Lua 5.4.
-- Everything is reachable from `local green = require "green"`. The C
-- module `green.core` does the scheduling; this file adds what is plain
-- composition.
-- @module green

local core = require "green.core"

local green = {}
for name, value in pairs(core) do green[name] = value end

local Timeout = green.Timeout
local pcall, error = pcall, error

--- Call `fn(...)` with a Timeout of `seconds` around it.
-- Returns what `fn` returns; raises the Timeout if the time runs out.
function green.with_timeout(seconds, fn, ...)
  local t <close> = Timeout.start_new(seconds)
  return fn(...)
end

local function value_or_raise(t, timeout_value, ok, ...)
  t:cancel()
  if ok then return ... end
  local err = ...
  if err == t then return timeout_value end
  error(err, 0)
end

--- Like `with_timeout`, but return `timeout_value` when the time runs out.
function green.with_timeout_value(seconds, timeout_value, fn, ...)
  local t = Timeout.start_new(seconds)
  return value_or_raise(t, timeout_value, pcall(fn, ...))
end

local Event, now = green.Event, green.now

-- Watch obj and call on_ready(obj) once it is ready; return what stops
-- watching. Greenlets are watched through links; anything else through a
-- helper greenlet blocked in obj:wait(), which takes nothing.
local function watch(obj, on_ready)
  if obj.link and obj.unlink then
    obj:link(on_ready)
    return function() obj:unlink(on_ready) end
  end
  local helper = green.spawn_raw(function()
    if obj:wait() then on_ready(obj) end
  end)
  return function() helper:kill(nil, {block = false}) end
end

--- Iterate over `objects` as each becomes ready, at most `count` of them
-- (default: all), until `timeout` seconds have passed (default: no limit).
-- An object is a greenlet, or anything with `ready()` and `wait(timeout)`
-- (which waits without consuming): Event, AsyncResult, the queues,
-- semaphores and locks, Group and Pool. Iteration simply ends when the time
-- runs out.
function green.iwait(objects, timeout, count)
  assert(type(objects) == "table", "bad argument #1 to 'iwait' (table expected)")
  count = math.min(count or #objects, #objects)
  local arrived, taken, wake, stops = {}, 0, Event(), {}
  local function on_ready(obj)
    arrived[#arrived + 1] = obj
    wake:set()
  end
  for _, obj in ipairs(objects) do
    if obj:ready() then arrived[#arrived + 1] = obj
    else stops[#stops + 1] = watch(obj, on_ready) end
  end
  local deadline = timeout and now() + timeout
  local function stop()
    for i = #stops, 1, -1 do stops[i](); stops[i] = nil end
  end
  return function()
    if taken >= count then stop(); return nil end
    while taken >= #arrived do
      wake:clear()
      local left = deadline and math.max(0, deadline - now())
      if not wake:wait(left) then stop(); return nil end
    end
    taken = taken + 1
    if taken >= count then stop() end
    return arrived[taken]
  end
end

--- Wait for `objects` as `iwait` does; return the list of those ready.
function green.wait(objects, timeout, count)
  local done = {}
  for obj in green.iwait(objects, timeout, count) do done[#done + 1] = obj end
  return done
end

--- Wait for greenlets to finish: opts.timeout, opts.count, and
-- opts.raise_error to re-raise the first error among those finished.
-- Returns the greenlets that finished.
function green.joinall(greenlets, opts)
  opts = opts or {}
  local done = green.wait(greenlets, opts.timeout, opts.count)
  if opts.raise_error then
    for _, g in ipairs(done) do
      if not g:successful() then error(g.exception, 0) end
    end
  end
  return done
end

--- Kill every greenlet in the list with `err` (default GreenletExit);
-- with opts.block (the default) wait for them, at most opts.timeout.
function green.killall(greenlets, err, opts)
  opts = opts or {}
  for _, g in ipairs(greenlets) do g:kill(err, {block = false}) end
  if opts.block ~= false then green.joinall(greenlets, {timeout = opts.timeout}) end
end

-- The rest of the API, built on what is above: each module adds to green
-- and may use any of it.
require "green.asyncresult" (green)
require "green.bridge" (green)
require "green.pool" (green)
require "green.deferred" (green)
require "green.states" (green)
require "green.cpu" (green)
require "green.retry" (green)
require "green.timed" (green)

return green
