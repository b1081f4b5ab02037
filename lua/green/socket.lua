--- green.socket: LuaSocket's API for greenlets.
-- `local socket = require "green.socket"` is a drop-in for
-- `require "socket"`: the same functions, classes, methods, results and
-- error strings (LuaSocket 3.1), but a call that has to wait (connect,
-- accept, receive, send, a name lookup, select, sleep) waits as a greenlet,
-- and every other greenlet runs meanwhile. The C part is green.socket.core;
-- this file adds what LuaSocket's own socket.lua adds, written anew.
-- @module green.socket

require "green"                 -- the hub, and green.socket.core's preload
local core = require "green.socket.core"

local socket = {}
for name, value in pairs(core) do    -- the Unix ones: green.socket.unix
  if name ~= "unix_stream" and name ~= "unix_dgram" then
    socket[name] = value
  end
end

socket.BLOCKSIZE = 2048
socket.__unload = function() end

local setmetatable, error, select = setmetatable, error, select
local pcall, type, tostring, ipairs = pcall, type, tostring, ipairs
local math_min = math.min

-- What try raises: the error message in a table only protect knows, so
-- that protect turns it back into nil, message and lets every other error
-- (a kill among them) go on.
local try_error = {__metatable = false}

--- A try function that calls `finalizer()` (if given) before it raises.
function socket.newtry(finalizer)
  return function(...)
    if not (...) then
      if finalizer then pcall(finalizer) end
      error(setmetatable({(select(2, ...))}, try_error), 0)
    end
    return ...
  end
end

socket.try = socket.newtry()

local function caught(ok, ...)
  if ok then return ... end
  local err = ...
  if debug.getmetatable(err) == try_error then
    return nil, err[1]
  end
  error(err, 0)
end

--- `f` wrapped so that an error raised by try comes back as nil, message.
function socket.protect(f)
  return function(...) return caught(pcall(f, ...)) end
end

--- `t[name](...)`, chosen by name; a name that is not a string means
-- "default", and the arguments shift by one.
function socket.choose(t)
  return function(name, opt1, opt2)
    if type(name) ~= "string" then
      name, opt1, opt2 = "default", name, opt1
    end
    local f = t[name or "nil"]
    if not f then error("unknown key (" .. tostring(name) .. ")", 3) end
    return f(opt1, opt2)
  end
end

function socket.connect4(address, port, laddress, lport)
  return socket.connect(address, port, laddress, lport, "inet")
end

function socket.connect6(address, port, laddress, lport)
  return socket.connect(address, port, laddress, lport, "inet6")
end

--- A server: the first address of `host` that binds ("*" is any), with
-- reuseaddr set, listening with `backlog`.
function socket.bind(host, port, backlog)
  if host == "*" then host = "0.0.0.0" end
  local addresses, err = socket.dns.getaddrinfo(host)
  if not addresses then return nil, err end
  err = "no info on address"
  for _, alt in ipairs(addresses) do
    local sock
    if alt.family == "inet" then sock, err = socket.tcp4()
    else sock, err = socket.tcp6() end
    if not sock then return nil, err end
    sock:setoption("reuseaddr", true)
    local ok
    ok, err = sock:bind(alt.addr, port)
    if ok then ok, err = sock:listen(backlog) end
    if ok then return sock end
    sock:close()
  end
  return nil, err
end

-- Sinks and sources for ltn12, over a socket. Each has getfd and dirty,
-- so socket.select takes it.
local function over(sock, call)
  return setmetatable({
    getfd = function() return sock:getfd() end,
    dirty = function() return sock:dirty() end,
  }, {__call = call})
end

socket.sinkt = {}

socket.sinkt["close-when-done"] = function(sock)
  return over(sock, function(_, chunk)
    if not chunk then
      sock:close()
      return 1
    end
    return sock:send(chunk)
  end)
end

socket.sinkt["keep-open"] = function(sock)
  return over(sock, function(_, chunk)
    if chunk then return sock:send(chunk) end
    return 1
  end)
end

socket.sinkt["default"] = socket.sinkt["keep-open"]
socket.sink = socket.choose(socket.sinkt)

socket.sourcet = {}

socket.sourcet["by-length"] = function(sock, length)
  return over(sock, function()
    if length <= 0 then return nil end
    local chunk, err = sock:receive(math_min(socket.BLOCKSIZE, length))
    if err then return nil, err end
    length = length - #chunk
    return chunk
  end)
end

socket.sourcet["until-closed"] = function(sock)
  local done
  return over(sock, function()
    if done then return nil end
    local chunk, err, partial = sock:receive(socket.BLOCKSIZE)
    if not err then return chunk end
    if err == "closed" then
      sock:close()
      done = true
      return partial
    end
    return nil, err
  end)
end

socket.sourcet["default"] = socket.sourcet["until-closed"]
socket.source = socket.choose(socket.sourcet)

return socket
