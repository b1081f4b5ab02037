--- green.ssl: LuaSec connections whose calls wait as a greenlet.
-- LuaSec waits inside OpenSSL's calls with its own poll(2), which would
-- stop every greenlet. `wrap(sock, params)` makes LuaSec's connection with
-- `ssl.wrap`, sets it to never wait (timeout 0), and returns a connection
-- with the same methods whose handshake, receive and send retry on
-- "wantread" and "wantwrite", waiting for the descriptor as a greenlet.
-- Trying first means bytes OpenSSL holds already are never waited for.
-- Timeouts (`settimeout(value, mode)`) limit each call as LuaSocket's do;
-- when one runs out the call fails as LuaSec's does ("wantread" or
-- "wantwrite" from a handshake, nil, err, partial from a receive). A kill
-- or a green.Timeout raises through the call; bytes a receive had already
-- taken stay in the connection for the next receive.
-- @module green.ssl

local green = require "green"
local ssl = require "ssl"

local wait_read, wait_write, now = green.wait_read, green.wait_write, green.now
local setmetatable, getmetatable, type = setmetatable, getmetatable, type
local pairs, tostring, error = pairs, tostring, error
local real_wrap = ssl.wrap

local Connection = {}
local methods = {}
local metatable = {__index = methods}
Connection.metatable = metatable

-- How long the next wait of a call begun at `start` may take (nil: no
-- limit), as green.socket counts it.
local function time_left(self, start)
  local block, total = self.block, self.total
  if block < 0 and total < 0 then return nil end
  local elapsed = now() - start
  if total < 0 then return math.max(block - elapsed, 0) end
  local left = math.max(total - elapsed, 0)
  if block < 0 then return left end
  return math.min(block, left)
end

-- Wait for what OpenSSL wants; false once the time is up.
local function wait_for(self, want, start)
  local left = time_left(self, start)
  if left == 0 then return false end
  local fd = self.conn:getfd()
  if want == "wantread" then return wait_read(fd, left) == true end
  return wait_write(fd, left) == true
end

local function is_want(err)
  return err == "wantread" or err == "wantwrite"
end

function methods:dohandshake()
  local start = now()
  while true do
    local ok, err = self.conn:dohandshake()
    if ok then return ok end
    if not is_want(err) or not wait_for(self, err, start) then
      return false, err
    end
  end
end

function methods:receive(pattern, prefix)
  local start, conn = now(), self.conn
  if self.pending ~= "" then
    prefix = (prefix or "") .. self.pending
    self.pending = ""
  end
  while true do
    local data, err, partial = conn:receive(pattern, prefix)
    if data then return data end
    if not is_want(err) then return nil, err, partial end
    -- Kept until the next receive if a kill comes while waiting.
    self.pending = partial or ""
    if not wait_for(self, err, start) then
      self.pending = ""
      return nil, err, partial
    end
    prefix, self.pending = partial, ""
  end
end

function methods:send(data, i, j)
  local start, conn = now(), self.conn
  i = i or 1
  while true do
    local last, err, sent = conn:send(data, i, j)
    if last then return last end
    if not is_want(err) or not wait_for(self, err, start) then
      return nil, err, sent
    end
    i = sent + 1
  end
end

function methods:settimeout(value, mode)
  mode = mode or "b"
  if type(value) ~= "number" or value ~= value then value = -1 end
  if mode == "b" then self.block = value
  elseif mode == "t" or mode == "r" then self.total = value
  else error("bad argument #2 to 'settimeout' (invalid timeout mode)", 2) end
  return 1
end

function methods:dirty()
  return self.pending ~= "" or self.conn:dirty()
end

function methods:close()
  return self.conn:close()
end

-- Everything else LuaSec's connection has, passed through as it is: the
-- names are read off the first connection made, so that what this LuaSec
-- version has is what the connections here have.
local function pass_through(conn)
  local mt = getmetatable(conn)
  local index = type(mt) == "table" and mt.__index
  if type(index) ~= "table" then return end
  for name, f in pairs(index) do
    if methods[name] == nil and type(f) == "function" then
      methods[name] = function(self, ...) return f(self.conn, ...) end
    end
  end
  pass_through = function() end
end

function metatable:__tostring()
  return "SSL connection: " .. tostring(self.conn):match("0x%x+$")
end

--- `ssl.wrap(sock, params)` for greenlets: a connection, or nil, err.
function Connection.wrap(sock, params)
  local conn, err = real_wrap(sock, params)
  if not conn then return nil, err end
  pass_through(conn)
  conn:settimeout(0)
  return setmetatable({conn = conn, block = -1, total = -1, pending = ""},
    metatable)
end

--- Whether obj is a connection this module made.
function Connection.is(obj)
  return getmetatable(obj) == metatable
end

return Connection
