-- The `green` command, run as a separate process.
package.path = "spec/?.lua;" .. package.path
local process = require "support.process"

local function run(script, ...)
  return process.run("timeout 60 env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='" ..
    process.build .. "/?.so;;' lua5.4 bin/green " .. script .. " " ..
    table.concat({...}, " "))
end

describe("the green command", function()
  it("runs the script, then waits until no greenlet is left", function()
    local out, code = run("spec/fixtures/command_ok.lua", "a", "b")
    assert.equals(0, code)
    assert.equals("main done with a,b\ngreenlet 1\ngreenlet 2\ngreenlet 3\n", out)
  end)

  it("exits 1 at once when the script raises, whatever greenlets still run", function()
    local out, code = run("spec/fixtures/command_fails.lua")
    assert.equals(1, code)
    assert.matches("started", out)
    assert.matches("script failed", out)
  end)

  it("says how to use it without a script", function()
    local out, code = run("")
    assert.equals(2, code)
    assert.matches("usage: green script.lua", out)
  end)
end)
