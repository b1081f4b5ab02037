-- The programs in examples/ build and do what they say.
local build = os.getenv("GREEN_BUILD") or "build/default"

-- The examples carry their own sanitizer runtime, if any: do not hand them
-- the one preloaded into lua5.4 for the specs.
local function run(cmd)
  local p = io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
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

describe("examples/host_demo.c", function()
  it("runs to the end", function()
    local out, code = run(build .. "/examples/host_demo")
    assert.equals(0, code, out)
    assert.matches("woke up: greenlet was killed", out)
    assert.matches("done\n$", out)
  end)
end)
