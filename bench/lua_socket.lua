-- green.socket against LuaSocket, in one run, over loopback TCP:
--   a 64-byte request/response round trip between two greenlets of this
--   process, against the same round trip between two processes with
--   plain blocking LuaSocket (this one the client);
--   receive("*l") of many short lines, against LuaSocket's own, both
--   reading what a LuaSocket process in another process sends.
-- Wall-clock time, as the figures are latencies that include the other
-- process. Each figure is the median of 7 runs, the runs of green and of
-- LuaSocket taking turns.
local green = require "green"
local gsocket = require "green.socket"
local luasocket = require "socket"

local LUA = os.getenv("LUA") or "lua5.4"
local now = green.now

-- A LuaSocket process: `code` serves each connection `c` it accepts on a
-- port it prints, until the connection that sends "exit".
local function helper(code)
  local script = ([[
    local socket = require "socket"
    local server = assert(socket.bind("127.0.0.1", 0))
    io.write(select(2, server:getsockname()), "\n") io.flush()
    while true do
      local c = server:accept()
      c:setoption("tcp-nodelay", true)
      local first = c:receive(4)
      if first == "exit" then break end
      %s
      c:close()
    end]]):format(code)
  local proc = assert(io.popen(LUA .. " -e " .. ("%q"):format(script), "r"))
  return proc, assert(tonumber(proc:read("l")))
end

local function stop(proc, port)
  local c = luasocket.connect("127.0.0.1", port)
  c:send("exit")
  c:close()
  proc:close()
end

local function median(fa, fb, n)
  local a, b = {}, {}
  fa(n // 10)
  fb(n // 10)
  for i = 1, 7 do
    a[i], b[i] = fa(n), fb(n)
  end
  table.sort(a)
  table.sort(b)
  return a[4], b[4]
end

local message = ("x"):rep(64)

-- ---------------------------------------------------------------- round trip

local echo_proc, echo_port = helper([[
      while true do
        local data = c:receive(64)
        if not data then break end
        c:send(data)
      end]])

-- n round trips over a connection of the module sock: ns per round trip.
local function round_trips(sock, port, greeting, n)
  local c = assert(sock.connect("127.0.0.1", port))
  c:setoption("tcp-nodelay", true)
  if greeting then c:send(greeting) end
  local start = now()
  for _ = 1, n do
    c:send(message)
    c:receive(64)
  end
  local t = (now() - start) * 1e9 / n
  c:close()
  return t
end

local server = assert(gsocket.bind("127.0.0.1", 0))
local _, green_port = server:getsockname()
green.spawn(function()
  while true do
    local c = server:accept()
    if not c then return end
    c:setoption("tcp-nodelay", true)
    green.spawn(function()
      while true do
        local data = c:receive(64)
        if not data then break end
        c:send(data)
      end
      c:close()
    end)
  end
end)

-- Between two greenlets of this process, and between this process and
-- the LuaSocket one, blocking.
local function green_round_trips(n)
  return round_trips(gsocket, green_port, nil, n)
end
local function luasocket_round_trips(n)
  return round_trips(luasocket, echo_port, "ping", n)
end

local g_rtt, l_rtt = median(green_round_trips, luasocket_round_trips, 20000)
stop(echo_proc, echo_port)
server:close()

-- ---------------------------------------------------------------- lines

local lines = 200000
local lines_proc, lines_port = helper(([[
      local line = ("l"):rep(15) .. "\n"
      c:send(line:rep(%d))]]):format(lines))

local function read_lines(sock, n)
  local c = assert(sock.connect("127.0.0.1", lines_port))
  c:send("data")
  local start = now()
  for _ = 1, n do assert(c:receive("*l")) end
  local t = (now() - start) * 1e9 / n
  c:close()
  return t
end

local g_line, l_line = median(function(n) return read_lines(gsocket, n) end,
                              function(n) return read_lines(luasocket, n) end,
                              lines)
stop(lines_proc, lines_port)

print(string.format("lua socket   64-byte round trip, two greenlets %7.0f ns   two LuaSocket processes %7.0f ns   ratio %.2fx   (target <= 1.0x)",
  g_rtt, l_rtt, g_rtt / l_rtt))
print(string.format("lua socket   receive(\"*l\") of 16-byte lines: green.socket %5.0f ns   LuaSocket %5.0f ns   ratio %.2fx   (target <= 1.0x)",
  g_line, l_line, g_line / l_line))
