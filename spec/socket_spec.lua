-- green.socket against LuaSocket itself: its real module loaded beside
-- green's (the oracle for names, classes and messages), and a peer in
-- another process that runs plain blocking LuaSocket (spec/support/peer.lua).
-- Loopback only.
local green = require "green"
local socket = require "green.socket"
local unix = require "green.socket.unix"
local luasocket = require "socket"

local LUA = os.getenv("LUA") or "lua5.4"

local function pid()
  local f = assert(io.open("/proc/self/stat"))
  local stat = f:read("l")
  f:close()
  return stat:match("^%d+")
end

-- The descriptors this process has open, once sockets that are garbage
-- (an earlier spec's) have been collected and so closed.
local function open_fds()
  collectgarbage()
  collectgarbage()
  local n = 0
  local ls = io.popen("ls /proc/" .. pid() .. "/fd")
  for _ in ls:lines() do n = n + 1 end
  ls:close()
  return n
end

-- The peer: a LuaSocket server in its own process.
local peer = {}
peer.__index = peer

local function start_peer()
  local proc = assert(io.popen(LUA .. " spec/support/peer.lua", "r"))
  local port = assert(tonumber(proc:read("l")), "the peer gave no port")
  return setmetatable({proc = proc, port = port}, peer)
end

-- Open a connection on which the peer runs `code`.
function peer:run(code)
  local c = assert(socket.connect("127.0.0.1", self.port))
  assert(c:send(code .. "\n"))
  return c
end

function peer:stop()
  local c = assert(socket.connect("127.0.0.1", self.port))
  c:send("exit\n")
  c:receive("*a")
  c:close()
  self.proc:close()
end

-- Run a LuaSocket client in another process: `code` runs with `port` and
-- `socket`, and what it prints is returned once it ends.
local function client_process(port, code)
  local script = ("local socket = require 'socket'; local port = %d; %s")
    :format(port, code)
  return assert(io.popen(LUA .. " -e " .. ("%q"):format(script), "r"))
end

local function names(obj)
  local list = {}
  for name in pairs(getmetatable(obj).__index) do list[#list + 1] = name end
  table.sort(list)
  return list
end

local function listener(backlog)
  local server = assert(socket.bind("127.0.0.1", 0, backlog))
  local _, port = server:getsockname()
  return server, tonumber(port)
end

-- A connected pair in this process.
local function pair()
  local server, port = listener()
  local c = assert(socket.connect("127.0.0.1", port))
  local s = assert(server:accept())
  server:close()
  return c, s
end

describe("green.socket's surface", function()
  it("has every function and constant of LuaSocket's socket module", function()
    for name, value in pairs(luasocket) do
      assert(socket[name] ~= nil, "green.socket has no " .. name)
      assert.equal(type(value), type(socket[name]), name)
    end
    for name in pairs(luasocket.dns) do assert.is_function(socket.dns[name], name) end
    assert.equal(luasocket._VERSION, socket._VERSION)
    assert.equal(luasocket._SETSIZE, socket._SETSIZE)
    assert.equal(luasocket.BLOCKSIZE, socket.BLOCKSIZE)
  end)

  it("has LuaSocket's method tables, class fields and tostring forms", function()
    local ours = {
      master = socket.tcp(), udp = socket.udp(), unix = unix.stream(),
      dgram = unix.dgram(),
    }
    local theirs = {
      master = luasocket.tcp(), udp = luasocket.udp(),
      unix = require("socket.unix").stream(), dgram = require("socket.unix").dgram(),
    }
    for kind, obj in pairs(ours) do
      assert.same(names(theirs[kind]), names(obj), kind)
      assert.equal(getmetatable(theirs[kind]).__index.class, getmetatable(obj).__index.class)
      assert.equal(tostring(theirs[kind]):match("^[^:]+"), tostring(obj):match("^[^:]+"))
      assert.truthy(tostring(obj):match(": 0x%x+$"))
      obj:close()
      theirs[kind]:close()
    end
    local server, port = listener()
    assert.equal("tcp{server}", tostring(server):match("^[^:]+"))
    local c = socket.connect("127.0.0.1", port)
    assert.same(names(luasocket.tcp()), names(server))
    assert.equal("tcp{client}", getmetatable(c).__index.class)
    c:close()
    server:close()
  end)

  it("checks classes with LuaSocket's messages", function()
    local server, port = listener()
    local c = assert(socket.connect("127.0.0.1", port))
    local lserver = assert(luasocket.bind("127.0.0.1", 0))
    local _, lport = lserver:getsockname()
    local lc = assert(luasocket.connect("127.0.0.1", lport))
    local function message(f, ...) local _, err = pcall(f, ...) return err end
    assert.equal(message(lc.receive, lserver), message(c.receive, server))
    assert.equal(message(lserver.accept, lc), message(server.accept, c))
    assert.equal(message(lc.listen, lserver), message(c.listen, server))
    assert.equal(message(lc.receive, lc, "l"), message(c.receive, c, "l"))
    assert.equal(message(lc.receive, lc, {}), message(c.receive, c, {}))
    assert.equal(message(lc.settimeout, lc, 1, "x"), message(c.settimeout, c, 1, "x"))
    assert.equal(message(lc.setoption, lc, "bogus", 1), message(c.setoption, c, "bogus", 1))
    assert.equal(message(lc.getfd, io.stdout), message(c.getfd, io.stdout))
    assert.equal("bad argument #2 to '?' (invalid receive pattern)",
      message(c.receive, c, -1))
    local u = socket.udp()
    assert.equal("bad argument #1 to '?' (udp{connected} expected)", message(u.send, u, "x"))
    assert.equal("bad argument #2 to '?' (invalid receive size)", message(u.receive, u, -1))
    assert.truthy(message(socket.connect, nil, 1):match("string expected, got nil"))
    lserver:close(); lc:close(); c:close(); server:close(); u:close()
  end)

  it("changes class as LuaSocket does, even when a connect fails", function()
    local t = socket.tcp()
    assert.equal(-1, t:getfd())
    assert.equal("inet4", t:getfamily())
    assert.same({nil, "setsockopt failed"}, {t:setoption("reuseaddr", true)})
    local server, port = listener()
    server:close()
    assert.same({nil, "connection refused"}, {t:connect("127.0.0.1", port)})
    assert.equal("tcp{client}", getmetatable(t).__index.class)
    t:close()
    assert.same({nil, "Address family for hostname not supported"},
      {socket.tcp6():connect("127.0.0.1", port)})
    assert.same({nil, "service not supported for socket type"},
      {socket.connect("127.0.0.1", "no-such-port")})
  end)
end)

describe("green.socket against a LuaSocket peer in another process", function()
  local p
  setup(function() p = start_peer() end)
  teardown(function() p:stop() end)

  it("receives with every pattern, dropping CRs from lines", function()
    local c = p:run([[c:send("line1\r\nline2\nabcdef\nrest")]])
    assert.same({"line1"}, {c:receive()})
    assert.same({"preline2"}, {c:receive("*l", "pre")})
    assert.same({"ab"}, {c:receive(2)})
    assert.same({"xycd"}, {c:receive(4, "xy")})
    assert.same({"xyz"}, {c:receive(2, "xyz")})
    assert.same({"ef"}, {c:receive("*l")})
    assert.same({""}, {c:receive(0)})
    assert.same({"rest"}, {c:receive("*a")})
    assert.same({nil, "closed", ""}, {c:receive("*a")})
    assert.same({nil, "closed", ""}, {c:receive()})
    c:close()
  end)

  it("gives partial data with the error", function()
    local c = p:run([[c:send("abc") socket.sleep(0.5) c:send("de\n")]])
    assert.is_true(green.wait_read(c, 10))
    c:settimeout(0.05)
    assert.same({nil, "timeout", "abc"}, {c:receive(10)})
    c:settimeout(10)
    assert.same({"de"}, {c:receive()})
    c:close()
    c = p:run([[c:send("part")]])
    assert.same({nil, "closed", "part"}, {c:receive(10)})
    c:close()
  end)

  it("limits the whole call in both timeout modes, as LuaSocket 3.1 does", function()
    for _, mode in ipairs{"b", "t"} do
      local c = p:run([[for i = 1, 10 do c:send("x") socket.sleep(0.2) end]])
      assert.is_true(green.wait_read(c, 10))
      c:settimeout(0.3, mode)
      local data, err, partial = c:receive(10)
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.truthy(#partial >= 1 and #partial < 10, mode)
      c:close()
    end
    local c = socket.tcp()
    assert.same({-1, -1}, {c:gettimeout()})
    c:settimeout(2); c:settimeout(5, "t")
    assert.same({2, 5}, {c:gettimeout()})
    c:close()
  end)

  it("sends with string.sub's i and j, reporting the last index", function()
    local c = p:run([[c:send(c:receive(12))]])
    assert.equal(4, c:send("hello", 2, -2))      -- "ell"
    assert.equal(0, c:send(""))
    assert.equal(4, c:send("abc", 5))            -- nothing
    assert.equal(3, c:send("abc", -3))
    assert.equal(3, c:send("xyz"))
    assert.equal(3, c:send("123456", 1, 3))
    assert.same({"ellabcxyz123"}, {c:receive(12)})
    local received, sent = c:getstats()
    assert.same({12, #"c:send(c:receive(12))\n" + 12}, {received, sent})
    assert.equal(1, c:setstats(1, 2, 0))
    local r2, s2 = c:getstats()
    assert.same({1, 2}, {r2, s2})
    c:close()
  end)

  it("reports a peer that has gone as closed", function()
    local c = p:run([[]])
    assert.same({nil, "closed", ""}, {c:receive()})
    local last_err
    for _ = 1, 100 do
      local ok, err = c:send(("x"):rep(1000))
      if not ok then last_err = err break end
    end
    assert.equal("closed", last_err)
    c:close()
  end)

  it("is served by a green server, and serves a LuaSocket client", function()
    local server, port = listener()
    local proc = client_process(port, [[
      local c = assert(socket.connect("127.0.0.1", port))
      c:send("ping\n")
      print((c:receive()))
      print((c:receive("*a")))
    ]])
    local conn = assert(server:accept())
    assert.equal("ping", conn:receive())
    assert.equal(5, conn:send("pong\n"))
    assert.equal(6, conn:send("done!\n"))
    conn:close()
    server:close()
    assert.equal("pong\ndone!\n\n", proc:read("a"))
    proc:close()
  end)

  it("exchanges datagrams with the peer's UDP socket, both ways", function()
    local u = socket.udp()
    assert(u:setsockname("127.0.0.1", 0))
    local _, port = u:getsockname()
    u:settimeout(10)
    -- The peer takes one line of code.
    local c = p:run(([[local u = socket.udp() u:setsockname("127.0.0.1", 0) ]] ..
      [[u:settimeout(10) u:sendto("from luasocket", "127.0.0.1", %d) ]] ..
      [[c:send(u:receivefrom() .. "\n")]]):format(port))
    local data, ip, from_port = u:receivefrom()
    assert.same({"from luasocket", "127.0.0.1"}, {data, ip})
    assert.equal(13, u:sendto("from greenlet", ip, from_port))
    assert.equal("from greenlet", c:receive())
    c:close(); u:close()
  end)

  it("talks to the peer's LuaSocket Unix stream socket", function()
    local path = os.tmpname()
    os.remove(path)
    local server = unix.stream()
    assert(server:bind(path))
    assert(server:listen())
    local c = p:run(([[local s = require("socket.unix").stream() ]] ..
      [[assert(s:connect(%q)) s:send("unix hello\n") c:send(s:receive() .. "\n")]])
      :format(path))
    local conn = assert(server:accept())
    assert.equal("unix hello", conn:receive())
    conn:send("unix reply\n")
    assert.equal("unix reply", c:receive())
    conn:close(); c:close(); server:close()
    os.remove(path)
  end)

  it("shuts down one direction", function()
    local c = p:run([[c:send((c:receive("*a")):upper())]])
    c:send("shout")
    assert.equal(1, c:shutdown("send"))
    assert.same({"SHOUT"}, {c:receive("*a")})
    assert.has_error(function() c:shutdown("sideways") end,
      "bad argument #1 to 'shutdown' (invalid option 'sideways')")
    c:close()
  end)
end)

describe("green.socket while other greenlets run", function()
  it("keeps bytes a kill or a green.Timeout interrupts for the next receive", function()
    local c, s = pair()
    local g = green.spawn(function() return c:receive(10) end)
    s:send("abc")
    green.sleep(0.01)
    assert.is_true(c:dirty())
    g:kill()
    assert.equal(green.GreenletExit, g:get())
    assert.is_true(c:dirty())
    s:send("defg")
    local t = green.Timeout(0.02)
    local ok = pcall(function() t:start(); c:receive(10) end)
    assert.is_false(ok)
    s:send("hijk")
    assert.equal("abcdefghij", c:receive(10))
    assert.equal("k", c:receive(1))
    assert.is_false(c:dirty())
    -- What was received stays receivable after close, as in LuaSocket.
    s:send("lm\n")
    assert.is_true(green.wait_read(c, 10))
    assert.equal("l", c:receive(1))
    c:close()
    assert.same({"m"}, {c:receive()})
    assert.same({nil, "closed", ""}, {c:receive()})
    s:close()
  end)

  it("wakes a greenlet waiting on a socket another one closes", function()
    local c, s = pair()
    local reader = green.spawn(function() return {c:receive()} end)
    local acceptor_server = listener()
    local acceptor = green.spawn(function() return {acceptor_server:accept()} end)
    green.sleep(0.01)
    c:close()
    acceptor_server:close()
    assert.same({nil, "closed", ""}, reader:get())
    assert.same({nil, "closed"}, acceptor:get())
    s:close()
  end)

  it("lets one greenlet receive while another sends, but not two receive", function()
    local c, s = pair()
    local reader = green.spawn(function() return c:receive() end)
    green.sleep(0.01)
    assert.has_error(function() c:receive() end,
      "receive: another greenlet is already receiving on this socket")
    local big = ("y"):rep(4 * 1024 * 1024)
    local sender = green.spawn(function() return c:send(big) end)
    green.sleep(0.01)
    assert.has_error(function() c:send("z") end,
      "send: another greenlet is already sending on this socket")
    local got = assert(s:receive(#big))
    assert.equal(#big, #got)
    assert.equal(#big, sender:get())
    s:send("line\n")
    assert.equal("line", reader:get())
    c:close(); s:close()
  end)

  it("times out and is killed in accept, connect and send, leaking nothing", function()
    local before = open_fds()
    local server, port = listener(1)
    server:settimeout(0.02)
    assert.same({nil, "timeout"}, {server:accept()})
    server:settimeout(-1)
    local acceptor = green.spawn(function() return server:accept() end)
    green.sleep(0.01)
    acceptor:kill()
    assert.equal(green.GreenletExit, acceptor:get())
    -- Connects past a full backlog wait for an answer that does not come.
    local pending = {}
    local hanging
    for _ = 1, 20 do
      local t = socket.tcp()
      t:settimeout(0.2)
      local ok, err = t:connect("127.0.0.1", port)
      pending[#pending + 1] = t
      if not ok then assert.equal("timeout", err) hanging = true break end
    end
    assert.is_true(hanging)
    local connector = green.spawn(function()
      return socket.connect("127.0.0.1", port)
    end)
    green.sleep(0.02)
    connector:kill()
    assert.equal(green.GreenletExit, connector:get())
    assert.has_error(function()
      green.with_timeout(0.02, socket.connect, "127.0.0.1", port)
    end)
    -- A peer that reads nothing: a large send fills the buffers.
    local c, s = pair()
    c:settimeout(0.05)
    local big = ("z"):rep(32 * 1024 * 1024)
    local last, err, sent = c:send(big)
    assert.is_nil(last)
    assert.equal("timeout", err)
    assert.truthy(sent > 0 and sent < #big)
    c:settimeout(-1)
    local sender = green.spawn(function() return c:send(big) end)
    green.sleep(0.01)
    sender:kill()
    assert.equal(green.GreenletExit, sender:get())
    c:close(); s:close()
    for _, t in ipairs(pending) do t:close() end
    server:close()
    -- None more than before (one fewer has been seen: a descriptor of an
    -- earlier spec's, closed meanwhile).
    local after = open_fds()
    assert.is_true(after <= before, ("%d descriptors before, %d after"):format(before, after))
  end)

  it("gives up a name lookup on a kill or a timeout, leaking nothing", function()
    -- The lookup threads, and what wakes the hub from them, are made at
    -- the process's first lookup and kept.
    assert.equal("127.0.0.1", (socket.dns.toip("localhost")))
    local before = open_fds()
    for _ = 1, 5 do
      local g = green.spawn(function() return socket.dns.toip("localhost") end)
      green.sleep(0)              -- in its lookup now, or answered already
      g:kill()
      local ok = pcall(green.with_timeout, 0, socket.dns.getaddrinfo, "localhost")
      assert.is_boolean(ok)
    end
    assert.equal("127.0.0.1", (socket.dns.toip("localhost")))
    assert.equal(before, open_fds())
  end)

  it("serves 500 connections at once", function()
    local server, port = listener(1024)
    local handlers = green.Group()
    local acceptor = green.spawn(function()
      for _ = 1, 500 do
        local conn = assert(server:accept())
        handlers:spawn(function()
          local line = conn:receive()
          conn:send(line:upper() .. "\n")
          conn:close()
        end)
      end
    end)
    local clients = {}
    for i = 1, 500 do
      clients[i] = green.spawn(function()
        local c = assert(socket.connect("127.0.0.1", port))
        c:send("hello " .. i .. "\n")
        local reply = c:receive()
        c:close()
        return reply
      end)
    end
    green.joinall(clients, {raise_error = true})
    for i, g in ipairs(clients) do assert.equal("HELLO " .. i, g.value) end
    acceptor:join()
    handlers:join()
    server:close()
  end)
end)

describe("green.socket's UDP and Unix sockets", function()
  it("sends and receives datagrams, connected or not", function()
    local u = socket.udp()
    assert.equal(1, u:setsockname("127.0.0.1", 0))
    local ip, port = u:getsockname()
    assert.equal("127.0.0.1", ip)
    local v = socket.udp4()
    assert.equal(2, v:sendto("hi", "127.0.0.1", port))
    local data, from_ip, from_port = u:receivefrom()
    assert.same({"hi", "127.0.0.1"}, {data, from_ip})
    assert.equal("integer", math.type(from_port))
    assert.equal(1, v:setpeername("127.0.0.1", port))
    assert.equal("udp{connected}", getmetatable(v).__index.class)
    assert.equal(0, v:send(""))
    assert.equal("", u:receive())
    v:send("hello")
    assert.equal("he", u:receive(2))       -- the rest of the datagram is gone
    assert.equal(1, v:setpeername("*"))
    assert.same({nil, "Name or service not known"}, {v:sendto("x", "localhost", port)})
    assert.equal("udp{unconnected}", getmetatable(v).__index.class)
    u:settimeout(0.01)
    assert.same({nil, "timeout"}, {u:receive()})
    local waiter = green.spawn(function() return u:receivefrom() end)
    green.sleep(0)
    u:settimeout(-1)
    v:sendto("late", "127.0.0.1", port)
    assert.equal("late", waiter:get())
    u:close(); v:close()
  end)

  it("talks over Unix stream and datagram sockets", function()
    local path = os.tmpname()
    os.remove(path)
    local server = unix()
    assert.equal(1, server:bind(path))
    assert.equal(1, server:listen())
    assert.equal("unixstream{server}", getmetatable(server).__index.class)
    local c = unix.stream()
    local accepted = green.spawn(function() return server:accept() end)
    assert.equal(1, c:connect(path))
    local s = accepted:get()
    assert.equal(path, s:getsockname())
    c:send("over unix\n")
    assert.equal("over unix", s:receive())
    c:close(); s:close(); server:close()
    os.remove(path)
    local d = unix.dgram()
    assert.equal(1, d:bind(path))
    local e = unix.dgram()
    assert.equal(2, e:sendto("hi", path))
    assert.same({"hi", ""}, {d:receivefrom()})
    assert.equal(1, e:connect(path))
    assert.equal("unixdgram{connected}", getmetatable(e).__index.class)
    e:send("yo")
    assert.equal("yo", d:receive())
    d:close(); e:close()
    os.remove(path)
    assert.same({nil, "No such file or directory"}, {unix.stream():connect(path)})
  end)

  it("works over IPv6 loopback", function()
    local server = assert(socket.bind("::1", 0))
    local ip, port = server:getsockname()
    assert.equal("::1", ip)
    assert.equal("inet6", server:getfamily())
    local c = assert(socket.connect6("::1", port))
    local s = assert(server:accept())
    local _, _, family = c:getpeername()
    assert.equal("inet6", family)
    c:send("six\n")
    assert.equal("six", s:receive())
    c:close(); s:close(); server:close()
  end)
end)

describe("green.socket's options, select and helpers", function()
  it("sets and gets LuaSocket's options", function()
    local c, s = pair()
    assert.equal(1, c:setoption("tcp-nodelay", true))
    assert.is_true(c:getoption("tcp-nodelay"))
    assert.equal(1, c:setoption("keepalive", true))
    assert.is_true(c:getoption("keepalive"))
    assert.equal(1, c:setoption("linger", {on = true, timeout = 2}))
    assert.same({on = true, timeout = 2}, c:getoption("linger"))
    assert.is_nil(c:getoption("error"))
    assert.is_number(c:getoption("recv-buffer-size"))
    assert.has_error(function() c:setoption("keepalive", 1) end,
      "bad argument #2 to 'setoption' (boolean expected, got number)")
    assert.has_error(function() c:setoption("linger", {on = true}) end,
      "bad argument #2 to 'setoption' (number 'timeout' field expected)")
    local u = socket.udp4()
    assert.equal(1, u:setoption("broadcast", true))
    assert.is_true(u:getoption("broadcast"))
    assert.equal("0.0.0.0", u:getoption("ip-multicast-if"))
    c:close(); s:close(); u:close()
  end)

  it("selects as LuaSocket does, on anything with getfd and dirty", function()
    local c, s = pair()
    local r, w, err = socket.select({c}, nil, 0.01)
    assert.same({{}, {}, "timeout"}, {r, w, err})
    r, w = socket.select({c}, {c}, 1)
    assert.same({}, r)
    assert.equal(c, w[1])
    assert.equal(1, w[c])
    s:send("a\nb\n")
    r = socket.select({s, c}, nil, 5)
    assert.equal(c, r[1])
    assert.equal(1, r[c])
    assert.equal("a", c:receive())
    assert.is_true(c:dirty())              -- "b\n" is buffered
    r = socket.select({c}, nil)
    assert.equal(c, r[1])
    local foreign = {getfd = function() return c:getfd() end}
    local later = green.spawn(function() return socket.select({foreign}, nil, 5) end)
    green.sleep(0)
    assert.equal("b", c:receive())
    s:send("c\n")
    assert.equal(foreign, later:get()[1])
    assert.same({{}, {}, "timeout"}, {socket.select(nil, nil, 0)})
    c:close(); s:close()
  end)

  it("has LuaSocket's try, protect, newtry, skip and choose", function()
    local finalized = false
    local try = socket.newtry(function() finalized = true end)
    local f = socket.protect(function(x) try(x, "failed") return "fine" end)
    assert.same({"fine"}, {f(true)})
    assert.same({nil, "failed"}, {f(nil)})
    assert.is_true(finalized)
    assert.has_error(socket.protect(function() error("real") end))
    assert.same({1, 2}, {socket.try(1, 2)})
    assert.same({"c", "d"}, {socket.skip(2, "a", "b", "c", "d")})
    local chosen = socket.choose({default = function(a) return "d" .. a end,
      x = function(a) return "x" .. a end})
    assert.equal("x1", chosen("x", 1))
    assert.equal("d2", chosen(2))
    assert.has_error(function() chosen("nope") end, "unknown key (nope)")
  end)

  it("answers dns queries for loopback names", function()
    local ip, resolved = socket.dns.toip("localhost")
    assert.equal("127.0.0.1", ip)
    assert.truthy(resolved.name)
    assert.same({}, resolved.alias)
    local list = socket.dns.getaddrinfo("127.0.0.1")
    assert.same({{family = "inet", addr = "127.0.0.1"}}, list)
    local hosts, service = socket.dns.getnameinfo("127.0.0.1", 80)
    assert.equal("http", service)
    assert.is_string(hosts[1])
    assert.is_string(socket.dns.gethostname())
    assert.has_error(function() socket.dns.getnameinfo() end,
      "host and serv cannot be both nil")
  end)

  it("sleeps as a greenlet, and tells the wall clock", function()
    local ran = false
    green.spawn(function() ran = true end)
    socket.sleep(0.01)
    assert.is_true(ran)
    assert.truthy(math.abs(socket.gettime() - os.time()) < 2)
  end)
end)

describe("green.socket in a process short of descriptors", function()
  it("gives nil, err from accept instead of failing", function()
    local out = io.popen("ulimit -n 32; " .. LUA .. [[ -e '
      local green = require "green"
      local socket = require "green.socket"
      local server = assert(socket.bind("127.0.0.1", 0, 64))
      local _, port = server:getsockname()
      local clients, err = {}
      for i = 1, 40 do
        local c = socket.tcp()
        c:settimeout(0)
        c:connect("127.0.0.1", port)
        if c:getfd() < 0 then break end
        clients[#clients + 1] = c
      end
      server:settimeout(0.5)
      for i = 1, 40 do
        local s, e = server:accept()
        if not s then err = e break end
        clients[#clients + 1] = s
      end
      print(err)' 2>&1]]):read("a")
    assert.equal("Too many open files\n", out)
  end)
end)
