--- green: greenlets for Lua 5.4.
-- Everything is reachable from `local green = require "green"`. The C
-- module `green.core` does the scheduling; this file adds what is plain
-- composition.
-- @module green

local core = require "green.core"

local green = {}
for name, value in pairs(core) do green[name] = value end

return green
