--- green: greenlets for Lua 5.4.
-- Everything is reachable from `local green = require "green"`. The C
-- module `green.core` does the scheduling; this file adds what is plain
-- composition.
-- @module green

local core = require "green.core"
local args = require "green.args"

local green = {}
for name, value in pairs(core) do green[name] = value end

-- Lua names a function in an error message by where package.loaded holds
-- it ("bad argument #1 to 'green.sleep'"); were green.core's table there
-- too, the name would be either, as pairs happens to find them. Later
-- requires of green.core get a view of it that holds nothing itself.
package.loaded["green.core"] = setmetatable({}, {__index = core})

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
-- watching. Greenlets are watched through raw links, which start nothing
-- (so a wait on many greenlets costs no greenlet per death); anything else
-- through a link or a helper greenlet blocked in obj:wait(), which takes
-- nothing.
local function watch(obj, on_ready)
  if obj.rawlink and obj.unlink then
    obj:rawlink(on_ready)
    return function() obj:unlink(on_ready) end
  end
  if obj.link and obj.unlink then
    obj:link(on_ready)
    return function() obj:unlink(on_ready) end
  end
  local helper = green.spawn_raw(function()
    if obj:wait() then on_ready(obj) end
  end)
  return function() helper:kill(nil, {block = false}) end
end

-- Whether obj can be waited for: anything with ready() and either wait()
-- or, as greenlets, link() and unlink(). Indexing is protected: a foreign
-- userdata may refuse it.
local is_greenlet = green.is_greenlet

local function waitable(obj)
  if is_greenlet(obj) then return true end
  local t = type(obj)
  if t ~= "table" and t ~= "userdata" then return false end
  local ok, ready, wait, link, unlink = pcall(function()
    return obj.ready, obj.wait, obj.link, obj.unlink
  end)
  return ok and args.callable(ready) and
    (args.callable(wait) or (args.callable(link) and args.callable(unlink)))
end

-- Check the arguments every waiting function shares, naming fname.
local function check_wait(fname, objects, timeout, count, timeout_position)
  args.check_table(objects, 1, fname, 1)
  for i, obj in ipairs(objects) do
    if not waitable(obj) then
      error(("bad argument #1 to '%s' (item %d is a %s, not a greenlet or " ..
        "an object with ready and wait)"):format(fname, i, type(obj)), 3)
    end
  end
  args.check_seconds(timeout, timeout_position or 2, fname, 1)
  args.check_count(count, timeout_position or 3, fname, 1)
end

local function iterate(objects, timeout, count)
  count = math.min(count or #objects, #objects)
  local arrived, taken, wake, stops = {}, 0, Event(), {}
  local function on_ready(obj)
    arrived[#arrived + 1] = obj
    wake:set()
  end
  local function stop()
    for i = #stops, 1, -1 do stops[i](); stops[i] = nil end
  end
  -- A for loop closes this however it is left: break, an error, a kill.
  local closer = setmetatable({}, {__close = stop})
  for _, obj in ipairs(objects) do
    if obj:ready() then arrived[#arrived + 1] = obj
    else stops[#stops + 1] = watch(obj, on_ready) end
  end
  local deadline = timeout and now() + timeout
  local function next_ready()
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
  return next_ready, nil, nil, closer
end

--- Iterate over `objects` as each becomes ready, at most `count` of them
-- (default: all), until `timeout` seconds have passed (default: no limit).
-- An object is a greenlet, or anything with `ready()` and `wait(timeout)`
-- (which waits without consuming): Event, AsyncResult, the queues,
-- semaphores and locks, Group and Pool. Iteration simply ends when the time
-- runs out. In a `for` loop, whatever watches the objects stops however
-- the loop is left (break, an error, a kill).
function green.iwait(objects, timeout, count)
  check_wait("iwait", objects, timeout, count)
  return iterate(objects, timeout, count)
end

local function collect(objects, timeout, count)
  local done = {}
  for obj in iterate(objects, timeout, count) do done[#done + 1] = obj end
  return done
end

--- Wait for `objects` as `iwait` does; return the list of those ready.
function green.wait(objects, timeout, count)
  check_wait("wait", objects, timeout, count)
  return collect(objects, timeout, count)
end

local joinall_options = {timeout = true, count = true, raise_error = true}

local function all_greenlets(objects)
  for _, obj in ipairs(objects) do
    if not is_greenlet(obj) then return false end
  end
  return true
end

-- Wait for every greenlet, joining each in turn within what is left of
-- the time: when all are to end, the order they end in does not matter,
-- and a join watches nothing. Returns those that ended, in list order.
local function join_each(greenlets, timeout)
  local deadline = timeout and now() + timeout
  for _, g in ipairs(greenlets) do
    local left = deadline and math.max(0, deadline - now())
    if not g:join(left) then break end
  end
  local done = {}
  for _, g in ipairs(greenlets) do
    if g:ready() then done[#done + 1] = g end
  end
  return done
end

--- Wait for greenlets to finish: opts.timeout, opts.count, and
-- opts.raise_error to re-raise the first error among those finished.
-- Returns the greenlets that finished: in the order they finished, or
-- (waiting for all of them) in the order given.
function green.joinall(greenlets, opts)
  if opts ~= nil then args.check_options(opts, 2, "joinall", joinall_options) end
  opts = opts or {}
  check_wait("joinall", greenlets, opts.timeout, opts.count, 2)
  local done
  if opts.count == nil and all_greenlets(greenlets) then
    done = join_each(greenlets, opts.timeout)
  else
    done = collect(greenlets, opts.timeout, opts.count)
  end
  if opts.raise_error then
    for _, g in ipairs(done) do
      if not g:successful() then error(g.exception, 0) end
    end
  end
  return done
end

--- Kill every greenlet in the list with `err` (default GreenletExit);
-- with opts.block (the default) wait for them, at most opts.timeout.
-- Waiting joins each in turn, which starts nothing: at the limit of
-- greenlets a process can hold, killall still ends them.
function green.killall(greenlets, err, opts)
  args.check_table(greenlets, 1, "killall")
  opts = opts or {}
  args.check_seconds(opts.timeout, 3, "killall")
  for _, g in ipairs(greenlets) do green.kill(g, err, {block = false}) end
  if opts.block == false then return end
  local deadline = opts.timeout and now() + opts.timeout
  for _, g in ipairs(greenlets) do
    local left = deadline and math.max(0, deadline - now())
    if not g:join(left) then return end
  end
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
require "green.patch" (green)

return green
