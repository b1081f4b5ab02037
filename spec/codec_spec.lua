-- bindings/codec.c: Lua values as bytes and back, what cpu_bound sends to
-- worker threads. Round trips here stay in one lua_State; the decoder also
-- meets truncated and damaged messages.
local core = require "green.core"
local encode, decode = core._codec_encode, core._codec_decode

local function roundtrip(...)
  return decode(encode(...))
end

describe("the codec", function()
  it("carries nil, booleans, integers, floats and binary strings", function()
    local values = table.pack(nil, true, false, 0, -1, math.maxinteger,
      math.mininteger, 1.0, -0.5, 2^53, math.huge, -math.huge, "",
      "a\0b\255", string.rep("x", 100000))
    local back = table.pack(roundtrip(table.unpack(values, 1, values.n)))
    assert.equals(values.n, back.n)
    for i = 1, values.n do
      assert.equals(values[i], back[i])
      assert.equals(math.type(values[i]), math.type(back[i]))
    end
    local nan = roundtrip(0 / 0)
    assert.is_true(nan ~= nan)
    assert.equals(0, select("#", roundtrip()))
  end)

  it("keeps nested, shared and cyclic tables shared and cyclic", function()
    local shared = {"shared"}
    local t = {1, 2, nested = {deeper = {3}}, a = shared, b = shared,
               [shared] = "as a key", [1.5] = "float key", [true] = "bool key"}
    t.self = t
    local u = roundtrip(t)
    assert.equals(u, u.self)
    assert.equals(u.a, u.b)
    assert.same({"shared"}, u.a)
    assert.equals("as a key", u[u.a])
    assert.same({3}, u.nested.deeper)
    assert.equals("float key", u[1.5])
    assert.equals("bool key", u[true])
    local x, y = roundtrip(shared, shared)   -- across arguments too
    assert.equals(x, y)
  end)

  it("carries metatables", function()
    local Point = {}
    Point.__index = Point
    function Point:norm2() return self.x * self.x + self.y * self.y end
    local p = roundtrip(setmetatable({x = 3, y = 4}, Point))
    assert.equals(25, p:norm2())
  end)

  it("carries Lua functions with copies of their upvalues", function()
    local offset, label = 10, "sum"
    local function add(a, b) return label, a + b + offset end
    local f = roundtrip(add)
    assert.same({"sum", 13}, {f(1, 2)})
    offset = 0                          -- a copy: the original changes alone
    assert.same({"sum", 13}, {f(1, 2)})
    local function self_ref() return self_ref end
    local g = roundtrip(self_ref)
    assert.equals(g, g())
  end)

  it("loads a function without upvalues (but _ENV) once per state", function()
    local pure = function(x) return math.abs(x) end
    local message = encode(pure)
    assert.equals(decode(message), decode(message))
    local x, y = roundtrip(pure, {pure})  -- in one message, and in another
    assert.equals(x, y[1])
    assert.equals(decode(message), x)
    local n = 0
    local counting = function() n = n + 1; return n end
    local counted = encode(counting)
    local a, b = decode(counted), decode(counted)
    assert.are_not.equal(a, b)          -- each has its own copy of n
    assert.same({1, 1, 2}, {a(), b(), a()})
  end)

  it("gives functions the receiving side's globals", function()
    local f = roundtrip(function(s) return string.upper(s), type(_G) end)
    assert.same({"HI", "table"}, {f("hi")})
  end)

  it("carries C functions that a loaded module exports", function()
    assert.equals(string.format, roundtrip(string.format))
    assert.equals(math.floor, roundtrip(math.floor))
    assert.equals(print, roundtrip(print))
  end)

  it("refuses what cannot cross, naming where it was found", function()
    assert.error_matches(function() encode(1, {conn = io.stdout}) end,
      "argument 2, field 'conn': cannot send a userdata to a worker thread", 1, true)
    assert.error_matches(function() encode({a = {b = {coroutine.create(print)}}}) end,
      "argument 1, field 'a.b[1]': cannot send a coroutine to a worker thread", 1, true)
    local conn = io.stdout
    assert.error_matches(function() encode(1, {h = {function() return conn end}}) end,
      "argument 2, field 'h[1]', upvalue 'conn': cannot send a userdata", 1, true)
    assert.error_matches(function() encode(coroutine.wrap(print)) end,
      "argument 1: cannot send a C function that no loaded module exports", 1, true)
    local deep, cur = {}, nil
    cur = deep
    for _ = 1, 300 do cur.n = {}; cur = cur.n end
    assert.error_matches(function() encode(deep) end, "nested too deeply", 1, true)
  end)

  it("refuses every truncation of a message, never reading past its end", function()
    local message = encode({1, "two", {3.5}, f = function() return 1 end}, true, "x")
    for len = 0, #message - 1 do
      local ok, err = pcall(decode, message:sub(1, len))
      assert.is_false(ok)
      assert.matches("corrupt message", err)
    end
    assert.is_false(pcall(decode, message .. "\0"))   -- and what follows it
  end)

  it("survives damaged messages: values or an error, nothing else", function()
    local message = encode({1, "two", {3.5, {}}, [true] = false}, -7, "eight")
    math.randomseed(4)
    for _ = 1, 5000 do
      local bytes = {message:byte(1, -1)}
      for _ = 1, math.random(1, 3) do
        bytes[math.random(1, #bytes)] = math.random(0, 255)
      end
      local damaged = string.char(table.unpack(bytes))
      if not damaged:find("[\9\10\12]") then  -- no function tags: bytecode
                                                 -- and require are trusted
        local ok, err = pcall(decode, damaged)
        if not ok then assert.matches("corrupt message", err) end
      end
    end
  end)
end)
