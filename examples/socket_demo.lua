-- green examples/socket_demo.lua: one process, one thread, many
-- conversations at once, all written as plain blocking code.
--   * a line server greenlet that shouts back what it hears, and 200
--     client greenlets talking to it at the same time;
--   * a small HTTP server greenlet whose /slow page takes 0.3 s, and
--     LuaSocket's own socket.http, unmodified, fetching it 5 times at once
--     after green.patch(): 5 fetches in about 0.3 s, not 1.5 s.
local green = require "green"
green.patch()                       -- LuaSocket now waits as greenlets
local socket = require "socket"
local http = require "socket.http"

local function listen()
  local server = assert(socket.bind("127.0.0.1", 0, 512))
  local _, port = server:getsockname()
  return server, port
end

-- Accept forever, one greenlet per connection.
local function serve(server, handle)
  return green.spawn(function()
    while true do
      local conn = server:accept()
      if not conn then return end
      green.spawn(function() handle(conn); conn:close() end)
    end
  end)
end

local shouter, shout_port = listen()
serve(shouter, function(conn)
  for line in function() return (conn:receive()) end do
    conn:send(line:upper() .. "!\n")
  end
end)

local web, web_port = listen()
serve(web, function(conn)
  local path = conn:receive():match("^GET (%S+)")
  repeat local header = conn:receive() until header == "" or header == nil
  if path == "/slow" then green.sleep(0.3) end
  local body = "you asked for " .. path
  conn:send("HTTP/1.0 200 OK\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body)
end)

local start = green.now()
local clients = {}
for i = 1, 200 do
  clients[i] = green.spawn(function()
    local c = assert(socket.connect("127.0.0.1", shout_port))
    local replies = {}
    for round = 1, 3 do
      c:send(("client %d, round %d\n"):format(i, round))
      replies[round] = c:receive()
    end
    c:close()
    return replies
  end)
end
green.joinall(clients, {raise_error = true})
print(("line server: 200 clients, 600 lines shouted back in %.3f s")
  :format(green.now() - start))
print("  client 1 heard:   " .. table.concat(clients[1].value, " | "))
print("  client 200 heard: " .. table.concat(clients[200].value, " | "))

start = green.now()
local pool = green.Pool(5)
local urls = {}
for i = 1, 5 do urls[i] = ("http://127.0.0.1:%d/slow"):format(web_port) end
local function fetch(url)
  local body, code = http.request(url)
  return ("%s %q"):format(code, body)
end
for i, result in pool:imap(fetch, urls) do
  print(("  socket.http fetch %d: %s"):format(i, result))
end
print(("socket.http: 5 fetches of a 0.3 s page took %.2f s together")
  :format(green.now() - start))

shouter:close()
web:close()
