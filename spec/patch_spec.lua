-- green.patch() makes LuaSocket's and LuaSec's own modules cooperate.
-- Each scenario runs in a process of its own (spec/fixtures/patch_*.lua):
-- a patch changes LuaSocket's module table for the whole process, and the
-- other specs compare green.socket with the unpatched one.
local process = require "spec.support.process"

local LUA = os.getenv("LUA") or "lua5.4"

local function lines(out)
  local t = {}
  for line in out:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

describe("green.patch", function()
  it("runs socket.http, ltn12, socket.smtp and socket.ftp unmodified", function()
    local out, code = process.run(LUA .. " spec/fixtures/patch_protocols.lua")
    assert.equal(0, code, out)
    assert.same({
      "patched\tLuaSocket\ttrue\ttrue",
      "gets\t10\tnil",
      "post\t1\t200\tPOST HELLO FROM LTN12",
      "smtp\t1\tnil\t2\tgreen mail",
      "ftp\tcontents of notes.txt",
      "again\tLuaSocket\tnil\ttrue",
    }, lines(out))
  end)

  it("runs ssl.https unmodified, and cuts handshakes short", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local _, made = process.run(("openssl req -x509 -newkey rsa:2048 -nodes " ..
      "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost"):format(dir, dir))
    assert.equal(0, made)
    local out, code = process.run(LUA .. " spec/fixtures/patch_tls.lua " .. dir)
    os.execute("rm -r " .. dir)
    assert.equal(0, code, out)
    assert.same({
      "patched ssl\ttrue",
      "https\t1\t200\tsecret for /1",
      "https\t2\t200\tsecret for /2",
      "https\t3\t200\tsecret for /3",
      "https\t4\t200\tsecret for /4",
      "https\t5\t200\tsecret for /5",
      "sni\t5\tlocalhost",
      "handshake\ttrue",
      "line\tsecret for /buffered",
      "dirty\ttrue\ttrue",
      "verified\ttrue",
      "unverified\tfalse\tcertificate verify failed",
      "kept\tabcdef",
      "timeout\tfalse\ttrue",
      "killed\ttrue",
      "own timeout\tfalse\twantread",
      "descriptors\tnone left",
    }, lines(out))
  end)

  it("refuses options it does not know", function()
    local green = require "green"
    assert.has_error(function() green.patch{sockets = false} end,
      "bad argument #1 to 'patch' (unknown option 'sockets')")
    assert.has_error(function() green.patch(1) end,
      "bad argument #1 to 'patch' (table of options expected, got number)")
  end)

  it("gives green.socket to require 'socket' when LuaSocket is absent", function()
    local out, code = process.run(LUA .. [[ -e '
      package.path = "lua/?.lua;lua/?/init.lua"
      package.cpath = os.getenv("GREEN_BUILD") .. "/?.so"
      local green = require "green"
      local done = green.patch()
      local socket = require "socket"
      print(done.socket, done.ssl, socket == require "green.socket",
        require "socket.unix" == require "green.socket.unix")']])
    assert.equal(0, code, out)
    assert.equal("green.socket\tfalse\ttrue\ttrue\n", out)
  end)
end)
