--- green.socket.unix: LuaSocket's socket.unix for greenlets: Unix
-- stream and datagram sockets whose calls wait as a greenlet.
-- `unix()` is `unix.stream()`, as in LuaSocket.
-- @module green.socket.unix

require "green"
local core = require "green.socket.core"

local unix = {
  stream = core.unix_stream,
  dgram = core.unix_dgram,
  tcp = core.unix_stream,
  udp = core.unix_dgram,
}

return setmetatable(unix, {__call = function() return core.unix_stream() end})
