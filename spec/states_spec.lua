-- green.states, green.state and green.machine: the state machines of
-- ../shared/seeds/004 (gevent_async's @state), each of its examples in Lua.
local green = require "green"

-- The seed's plant, in the function form; `log` records what ran.
local function plant(is_eaten, log)
  local S = green.states()
  S.sprouting = green.state({transitions_to = "growing"}, function()
    log[#log + 1] = "sprouting"       -- germination process here
    S.growing()
    log[#log + 1] = "never"           -- the call does not return here
  end)
  S.growing = green.state({transitions_to = {"flowering"}}, function()
    log[#log + 1] = "growing"         -- CO2 and sunlight to biomass
    S.flowering()
  end)
  S.flowering = green.state({transitions_to = {"dead", "withering"}}, function()
    log[#log + 1] = "flowering"
    if is_eaten then S.dead(true) else S.withering() end
  end)
  S.withering = green.state({transitions_to = "dead"}, function()
    log[#log + 1] = "withering"
    S.dead()
  end)
  S.dead = green.state(function(eaten)
    log[#log + 1] = eaten and "dead, eaten" or "dead, cleaned up"
    return "compost"
  end)
  return S
end

describe("green.states, the seed's examples", function()
  it("a plant grows, flowers, withers and dies, each state replacing the " ..
     "last", function()
    local log = {}
    local S = plant(false, log)
    local g = S.sprouting()           -- spawns the initial state
    assert.equals("sprouting", g.name)
    assert.is_false(g:ready())        -- started once this greenlet blocks
    local machine = green.machine(S)
    assert.is_true(machine:join(1))
    assert.same({"sprouting", "growing", "flowering", "withering",
                 "dead, cleaned up"}, log)
    assert.equals("dead", machine.state)
    assert.equals("compost", machine.greenlet:get())
    assert.equals(green.GreenletExit, g:get())    -- replaced, not failed
  end)

  it("an eaten flower goes straight to dead, which gets the argument", function()
    local log = {}
    local S = plant(true, log)
    S.sprouting()
    assert.is_true(green.machine(S):join(1))
    assert.same({"sprouting", "growing", "flowering", "dead, eaten"}, log)
  end)

  it("states are methods on a class table, one machine per object", function()
    local Flower = green.states({})
    Flower.__index = Flower
    function Flower.new(days)
      return setmetatable({days = days, rain = green.Event(), log = {}}, Flower)
    end
    Flower.sprouting = green.state({transitions_to = "growing"}, function(self)
      self.log[#self.log + 1] = "sprouting"
      self:growing(self.days)         -- leaves way to the growing one
    end)
    Flower.growing = green.state({transitions_to = "flowering"}, function(self, days)
      self.log[#self.log + 1] = "growing " .. days
      self.rain:wait()
      self:flowering()
    end)
    Flower.flowering = green.state(function(self)
      self.log[#self.log + 1] = "flowering"
    end)
    local rose, tulip = Flower.new(1), Flower.new(2)
    rose:sprouting()
    tulip:sprouting()
    green.sleep(0)
    assert.equals("growing", green.machine(rose).state)
    assert.equals("growing", green.machine(tulip).state)
    rose.rain:set()
    assert.is_true(green.machine(rose):join(1))
    assert.equals("flowering", green.machine(rose).state)
    assert.equals("growing", green.machine(tulip).state)
    assert.is_true(green.machine(tulip):running())
    tulip.rain:set()
    assert.is_true(green.machine(tulip):join(1))
    assert.same({"sprouting", "growing 1", "flowering"}, rose.log)
    assert.same({"sprouting", "growing 2", "flowering"}, tulip.log)
  end)

  it("on_start stores the current state on the object", function()
    local function on_transition(new_state, target, store)
      if store then target.state = new_state end
    end
    local Object = green.states({})
    Object.__index = Object
    function Object.new() return setmetatable({state = nil}, Object) end
    Object.a_state = green.state({on_start = on_transition}, function(self, store) end)
    local obj = Object.new()
    local g = obj:a_state(true)
    green.sleep(0)
    assert.equals(g, obj.state)       -- is now storing the current state
    assert.is_true(obj.state:dead())
    local other = Object.new()
    other:a_state(false)
    green.sleep(0)
    assert.is_nil(other.state)
  end)
end)

describe("green.state transitions", function()
  it("an unlisted target raises green.ValidationError in the state that " ..
     "tried it, naming both states", function()
    local S, caught = green.states(), nil
    S.a = green.state({transitions_to = "b"}, function()
      local ok, err = pcall(S.c)
      caught = err
      assert(not ok)
      green.sleep(0.01)               -- still the current state
      S.b()
    end)
    S.b = green.state(function() end)
    S.c = green.state(function() end)
    S.a()
    green.sleep(0)
    assert.equals(green.ValidationError, getmetatable(caught))
    assert.equals("a", caught.from)
    assert.equals("c", caught.to)
    assert.equals("invalid transition from state 'a' to 'c' (it transitions to: b)",
      tostring(caught))
    assert.equals("a", green.machine(S).state)
    assert.is_true(green.machine(S):join(1))
    assert.equals("b", green.machine(S).state)
  end)

  it("a terminal state may not transition; the error ends the machine", function()
    local S = green.states()
    S.dead = green.state(function() S.alive() end)
    S.alive = green.state(function() end)
    local reports = 0
    local previous = green.on_error(function() reports = reports + 1 end)
    local g = S.dead()
    assert.is_true(green.machine(S):join(1))
    green.sleep(0)                  -- the handler runs in a greenlet of its own
    green.on_error(previous)
    assert.equals(1, reports)
    local ok, err = pcall(g.get, g)
    assert.is_false(ok)
    assert.equals("invalid transition from state 'dead' to 'alive' ('dead' is terminal)",
      tostring(err))
    assert.equals("dead", green.machine(S).state)
  end)

  it("on_start runs on the transitioning greenlet, before the new state " ..
     "starts, with its greenlet, the target and the arguments", function()
    local S, seen = green.states(), {}
    local first
    S.first = green.state({transitions_to = "second"}, function()
      first = green.getcurrent()
      S.second(1, nil, 3)
    end)
    S.second = green.state({on_start = function(new_state, target, ...)
      seen.on = green.getcurrent()
      seen.new_state, seen.target, seen.args = new_state, target, table.pack(...)
      green.sleep(0.01)               -- blocking here does not start it early
      seen.started_during_on_start = seen.started
    end}, function(...)
      seen.started = true
      seen.state_args = table.pack(...)
    end)
    S.first()
    assert.is_true(green.machine(S):join(1))
    assert.equals(first, seen.on)
    assert.equals(green.machine(S).greenlet, seen.new_state)
    assert.is_nil(seen.target)
    assert.same({n = 3, 1, nil, 3}, seen.args)
    assert.same({n = 3, 1, nil, 3}, seen.state_args)
    assert.is_nil(seen.started_during_on_start)
  end)

  it("a failing on_start leaves the machine in the old state", function()
    local S = green.states()
    local after
    S.a = green.state({transitions_to = "b"}, function()
      local ok, err = pcall(S.b)
      after = {ok, err, green.machine(S).state}
    end)
    S.b = green.state({on_start = function() error("refused") end}, function()
      after = "b ran"
    end)
    S.a()
    assert.is_true(green.machine(S):join(1))
    green.sleep(0.01)
    assert.is_false(after[1])
    assert.matches("refused", after[2])
    assert.equals("a", after[3])
    assert.equals("a", green.machine(S).state)
  end)

  it("a state called from outside while the machine runs is a checked " ..
     "transition that replaces the current state", function()
    local S, log = green.states(), {}
    S.idle = green.state({transitions_to = {"busy"}}, function()
      local _ <close> = setmetatable({}, {__close = function() log[#log + 1] = "idle ends" end})
      green.sleep(10)
    end)
    S.busy = green.state({transitions_to = "idle"}, function(job)
      log[#log + 1] = "busy with " .. job
    end)
    local idle = S.idle()
    green.sleep(0)
    assert.error_matches(function() S.idle() end,
      "invalid transition from state 'idle' to 'idle'")
    assert.equals(idle, green.machine(S).greenlet)   -- unaffected
    local busy = S.busy("dishes")
    assert.is_true(idle:dead())       -- ended before busy started
    assert.same({"idle ends"}, log)
    assert.equals(busy, green.machine(S).greenlet)
    assert.is_true(green.machine(S):join(1))
    assert.same({"idle ends", "busy with dishes"}, log)
    -- Ended: any state starts it afresh, unchecked.
    S.idle():kill()
    assert.is_true(green.machine(S):join(1))
    assert.equals("idle", green.machine(S).state)
  end)

  it("a second call from outside while the first still replaces the " ..
     "state is refused", function()
    local S, release = green.states(), green.Event()
    S.a = green.state({transitions_to = {"b", "c"}}, function()
      local _ <close> = setmetatable({}, {__close = function() release:wait() end})
      green.sleep(10)
    end)
    S.b = green.state(function() end)
    S.c = green.state(function() end)
    S.a()
    green.sleep(0)
    local mover = green.spawn(function() return S.b() end)  -- waits on a's cleanup
    green.sleep(0.01)
    assert.error_matches(function() S.c() end, "the machine is being moved")
    release:set()
    assert.is_true(mover:join(1))
    assert.is_true(green.machine(S):join(1))
    assert.equals("b", green.machine(S).state)
  end)

  it("a machine can be watched, waited for and killed", function()
    local S = green.states()
    S.loop = green.state(function() green.sleep(10) end)
    local machine = green.machine(S)
    assert.is_false(machine:running())
    assert.is_nil(machine.state)
    S.loop()
    assert.is_true(machine:running())
    assert.same({nil, "timeout"}, {machine:join(0.01)})
    assert.same({}, green.wait({machine}, 0.01))
    green.spawn(function() machine:kill() end)
    assert.same({machine}, green.wait({machine}, 1))
    assert.is_false(machine:running())
    assert.equals(green.GreenletExit, machine.greenlet:get())
  end)

  it("refuses bad definitions with clear errors", function()
    assert.error_matches(function() green.state("x") end,
      "bad argument #1 to 'state' %(table of options expected, got string%)")
    assert.error_matches(function() green.state({}, 5) end,
      "bad argument #2 to 'state' %(function expected, got number%)")
    assert.error_matches(function() green.state({transition_to = "a"}, print) end,
      "unknown option 'transition_to'")
    assert.error_matches(function() green.state({transitions_to = 5}, print) end,
      "transitions_to must be a state name or a list of them")
    assert.error_matches(function() green.state({transitions_to = {"a", 2}}, print) end,
      "transitions_to item 2 is not a state name")
    assert.error_matches(function() green.state({on_start = 1}, print) end,
      "on_start must be a function")
    assert.error_matches(function() green.state(print)() end,
      "this state has no name")
    local S = green.states()
    S.a = green.state(print)
    assert.error_matches(function() S.b = S.a end, "already named 'a'")
    assert.error_matches(function() green.states(setmetatable({}, {__newindex = print})) end,
      "already has __newindex")
    assert.error_matches(function() green.machine(1) end, "states table or object expected")
  end)
end)
