-- The programs in examples/ build and do what they say.
package.path = "spec/?.lua;" .. package.path
local process = require "support.process"
local build = process.build

-- The examples carry their own sanitizer runtime, if any: do not hand them
-- the one preloaded into lua5.4 for the specs.
local function run(cmd)
  return process.run("env -u LD_PRELOAD " .. cmd)
end

describe("examples/lua_game_loop.c", function()
  it("runs Lua entities and a C greenlet on one hub, a slice per frame", function()
    local out, code = run(build .. "/examples/lua_game_loop 60")
    assert.equals(0, code, out)
    assert.matches("frame  30: x = ", out)
    for id = 1, 3 do
      local moves, x = out:match("entity " .. id .. " moved (%d+) times to x = (%d+)")
      assert.is_truthy(moves, out)
      -- entity id moves by id every 0.1 * id s: over a second, a few times
      assert.is_true(tonumber(moves) >= 2, out)
      assert.equals(tonumber(moves) * id, tonumber(x))
    end
    assert.is_truthy(out:match("C greenlet made [1-9]%d* waves"), out)
  end)
end)

describe("examples/socket_demo.lua", function()
  it("serves many clients and socket.http fetches at once in one process", function()
    local out, code = process.run("lua5.4 bin/green examples/socket_demo.lua")
    assert.equals(0, code, out)
    assert.matches("200 clients, 600 lines shouted back", out)
    assert.is_truthy(out:find("client 200 heard: CLIENT 200, ROUND 1! | " ..
      "CLIENT 200, ROUND 2! | CLIENT 200, ROUND 3!", 1, true), out)
    for i = 1, 5 do
      assert.is_truthy(out:find(("socket.http fetch %d: 200 \"you asked for /slow\"")
        :format(i), 1, true), out)
    end
    -- Five fetches of a 0.3 s page, at once: well under the 1.5 s one
    -- after another would take (a generous bound, not a speed test).
    local took = tonumber(out:match("page took ([%d.]+) s together"))
    assert.is_true(took < 1.4, out)
  end)
end)

describe("examples/host_demo.c", function()
  it("runs to the end", function()
    local out, code = run(build .. "/examples/host_demo")
    assert.equals(0, code, out)
    assert.matches("woke up: greenlet was killed", out)
    assert.matches("done\n$", out)
  end)
end)

describe("examples/lua_channel.c", function()
  it("lets C greenlets and Lua greenlets exchange pointers through one channel", function()
    local out, code = run(build .. "/examples/lua_channel 40")
    assert.equals(0, code, out)
    assert.matches("40 requests, 40 answers checked, 0 wrong", out, 1, true)
    local total = 0
    for id = 1, 3 do
      local served = tonumber(out:match("lua worker " .. id .. " served (%d+)"))
      assert.is_true(served > 0, out)   -- the rendezvous spreads the work
      total = total + served
    end
    assert.equals(40, total)
  end)
end)
