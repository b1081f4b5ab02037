-- Every ```lua block in README.md runs, in a greenlet of its own, and
-- prints what its "-->" comments say it prints.
local green = require "green"

local function lua_blocks()
  local text = assert(io.open("README.md")):read("a")
  local blocks = {}
  for code in text:gmatch("```lua\n(.-)```") do blocks[#blocks + 1] = code end
  return blocks
end

describe("README.md", function()
  for i, code in ipairs(lua_blocks()) do
    it("example " .. i .. " runs and prints what it says", function()
      local printed = {}
      local env = setmetatable({print = function(...)
        local parts = table.pack(...)
        for k = 1, parts.n do parts[k] = tostring(parts[k]) end
        printed[#printed + 1] = table.concat(parts, "   ")
      end}, {__index = _G})
      local chunk = assert(load(code, "README example " .. i, "t", env))
      green.spawn(chunk):get()
      local expected = {}
      for line in code:gmatch("%-%->%s*([^\n]*)") do expected[#expected + 1] = line end
      assert.same(expected, printed)
    end)
  end
end)
