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

return green
