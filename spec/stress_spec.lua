-- Kills, Timeouts, waits and errors in odd places, mixed at random (with a
-- fixed seed): afterwards nothing is left alive, Lua's memory and the open
-- descriptors are where they started.
local green = require "green"

local function open_fds()
  local p = io.popen("ls /proc/" .. (io.open("/proc/self/stat"):read("n")) .. "/fd")
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

local settle = require("spec.support.memory").settle

local nasty = setmetatable({}, {__tostring = function() error("no words") end})

-- One greenlet's life: a few random steps, each of which may block.
local function life(rng, shared)
  local steps = {
    function() green.sleep(rng(0, 2) / 1000) end,
    function() shared.event:wait(rng(0, 3) / 1000) end,
    function() shared.queue:put(rng(1, 9), 0.002); shared.queue:get(0.002) end,
    function()
      local lock <close> = shared.lock:hold(0.003)
      green.sleep(0)
    end,
    function() green.with_timeout(rng(0, 2) / 1000, green.sleep, 0.01) end,
    function() return green.with_timeout_value(0.001, nil, shared.event.wait, shared.event) end,
    function()
      for g in green.iwait({shared.event, shared.peer}, 0.002) do
        if g then break end
      end
    end,
    function() green.wait({shared.queue, shared.event}, 0.001, 1) end,
    function()
      local co = coroutine.wrap(function() green.sleep(0); coroutine.yield(1) end)
      co()
    end,
    function() table.sort({3, 1, 2}, function(a, b) green.sleep(0); return a < b end) end,
    function() error(nasty) end,
    function() error("plain") end,
    function() pcall(green.sleep, 0.002) end,
    function() shared.peer:join(0.002) end,
  }
  for _ = 1, rng(1, 6) do
    steps[rng(1, #steps)]()
  end
end

describe("a storm of kills, Timeouts, waits and errors", function()
  it("leaves nothing behind", function()
    local rng = math.random
    math.randomseed(16)
    local reports = 0
    local previous = green.on_error(function() reports = reports + 1 end)
    local shared = {
      event = green.Event(), queue = green.Queue(4), lock = green.Lock(),
      peer = green.spawn(green.sleep, 0),
    }
    green.cpu_bound(function() return 1 end)()       -- its pool, made once
    green.sleep(0.01)
    local alive, fds, memory = green.stats().alive, open_fds(), settle()
    for round = 1, 100 do
      local gs = {}
      shared.peer = green.spawn(life, rng, shared)
      for i = 1, 40 do gs[i] = green.spawn(life, rng, shared) end
      for _ = 1, rng(0, 4) do green.sleep(rng(0, 2) / 1000) end
      for i = 1, 40, rng(2, 5) do
        local how = rng(1, 3)
        if how == 1 then gs[i]:kill(nil, {block = false})
        elseif how == 2 then gs[i]:kill(nasty, {block = false})
        else green.kill(gs[i], green.Timeout(1), {timeout = 0.01}) end
      end
      if round % 3 == 0 then shared.event:set() else shared.event:clear() end
      if round % 5 == 0 then
        green.killall(gs, nil, {timeout = 1})
      else
        green.joinall(gs, {timeout = 1})
      end
      green.killall(gs, nil, {timeout = 1})
      shared.peer:kill()
    end
    while shared.queue:qsize() > 0 do shared.queue:get() end
    green.sleep(0.01)                            -- handlers, the last Timeouts
    green.on_error(previous)
    assert.is_true(reports > 0)
    assert.equals(alive, green.stats().alive)
    assert.equals(fds, open_fds())
    local grown = settle() - memory
    assert.is_true(grown < 128, ("Lua memory grew by %.0f KiB"):format(grown))
  end)
end)
