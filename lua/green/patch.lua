--- green.patch: make LuaSocket (and LuaSec) cooperate, in place.
-- LuaSocket's modules (socket.http, socket.smtp, socket.ftp, socket.tp,
-- ltn12 sinks and sources) and LuaSec's ssl.https look up socket.tcp and
-- its kin in LuaSocket's one module table each time they are called, so
-- replacing those fields with green.socket's is enough, before or after
-- they were required. Code that copied a function into a local before the
-- patch keeps the blocking one: patch first.

local args = require "green.args"

return function(green)
  -- What blocks in LuaSocket's table: every function that makes a socket
  -- (its methods then are green's), and those that wait.
  local socket_names = {"tcp", "tcp4", "tcp6", "udp", "udp4", "udp6",
    "connect", "select", "sleep"}
  local unix_names = {"stream", "dgram", "tcp", "udp"}
  local parts = {socket = true, dns = true, unix = true, ssl = true}

  local function installed(name)
    local ok, module = pcall(require, name)
    if ok and type(module) == "table" then return module end
    return nil
  end

  local function copy(names, from, to)
    for _, name in ipairs(names) do to[name] = from[name] end
  end

  local function patch_socket(gsocket, opts)
    local socket = installed("socket")
    if socket == nil then
      -- No LuaSocket: require "socket" gets green.socket itself.
      package.loaded["socket.core"] = package.loaded["socket.core"] or gsocket
      package.loaded["socket"] = package.loaded["socket"] or gsocket
      return "green.socket"
    end
    if socket == gsocket then return "green.socket" end
    copy(socket_names, gsocket, socket)
    if opts.dns ~= false and type(socket.dns) == "table" then
      for name, f in pairs(gsocket.dns) do socket.dns[name] = f end
    end
    return "LuaSocket"
  end

  local function patch_unix()
    local gunix = require "green.socket.unix"
    local unix = installed("socket.unix")
    if unix == nil then
      package.loaded["socket.unix"] = gunix
    elseif unix ~= gunix then
      copy(unix_names, gunix, unix)
    end
    return true
  end

  local function patch_ssl()
    local ok, ssl = pcall(require, "ssl")
    if not ok or type(ssl) ~= "table" then return false end
    local gssl = require "green.ssl"
    ssl.wrap = gssl.wrap
    return true
  end

  --- Make LuaSocket cooperate: socket.tcp, udp, connect, select, sleep,
  -- dns.* and socket.unix become green.socket's; with LuaSec installed,
  -- ssl.wrap makes connections that wait as greenlets. `opts` may leave
  -- parts out: {dns = false, unix = false, ssl = false}. Safe to call
  -- again. Returns what it patched: {socket = "LuaSocket" or
  -- "green.socket" (none installed: require "socket" now gives it),
  -- dns = true, unix = true, ssl = true or false (LuaSec not installed)}.
  function green.patch(opts)
    if opts ~= nil then args.check_options(opts, 1, "patch", parts) end
    opts = opts or {}
    local gsocket = require "green.socket"
    local done = {}
    if opts.socket ~= false then
      done.socket = patch_socket(gsocket, opts)
      done.dns = opts.dns ~= false
    end
    if opts.unix ~= false then done.unix = patch_unix() end
    if opts.ssl ~= false then done.ssl = patch_ssl() end
    return done
  end
end
