-- A peer for the socket specs: plain blocking LuaSocket, in a process of
-- its own. It listens on 127.0.0.1 (port 0), prints the port, and serves
-- one connection at a time: the first line is Lua code, run with `c` (the
-- connection) and `socket`; then the connection is closed. "exit" ends
-- it, and so does a quiet minute, so it never outlives its spec.
local socket = require "socket"
local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(60)
local _, port = server:getsockname()
io.write(port, "\n")
io.flush()
while true do
  local c = server:accept()
  if not c then break end
  c:settimeout(60)
  local code = c:receive()
  if code == nil or code == "exit" then c:close() break end
  local env = setmetatable({c = c, socket = socket}, {__index = _G})
  local ok, err = pcall(assert(load(code, "=peer", "t", env)))
  if not ok then io.stderr:write("peer: ", tostring(err), "\n") end
  c:close()
end
server:close()
