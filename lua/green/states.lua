--- State machines whose states are greenlets (gevent_async's @state).
--
-- A state is a function. Calling a state from outside its machine starts
-- the machine in it: a greenlet runs the function. Calling another state
-- from inside the running state replaces the state greenlet with a new one
-- for the target, like a tail call: the transition is checked against the
-- current state's `transitions_to`, `on_start` runs, the new greenlet
-- starts and the old one ends (the call never returns into it).
--
--    local S = green.states()
--    S.sprouting = green.state({transitions_to = "growing"}, function() S.growing() end)
--    S.growing   = green.state(function() end)         -- terminal
--    local g = S.sprouting()
--
-- States stored in a class table made with `green.states(Class)` are
-- methods: `self:growing()` transitions the machine of `self`, one machine
-- per object. A state is called as a method when its first argument is an
-- object through which the same state is reached (`obj[name]` is it).
--
-- A transition from inside ends the old greenlet by raising GreenletExit
-- in it, as a kill does: a pcall around the transition would catch that
-- and let the old state run on beside the new one, so let it pass.
--
-- Calling a state from outside while its machine runs is the same checked
-- transition, made from outside: the current state greenlet is killed, and
-- once it has ended the new state starts. A machine that has ended (its
-- state returned without a transition, failed, or was killed) starts
-- afresh in whatever state is called, unchecked.
-- @module green.states

return function(green)
  local spawn, getcurrent, Event = green.spawn, green.getcurrent, green.Event
  local GreenletExit = green.GreenletExit
  local type, error, pairs, ipairs, select, rawget, rawset, rawequal =
    type, error, pairs, ipairs, select, rawget, rawset, rawequal
  local setmetatable, getmetatable, concat =
    setmetatable, getmetatable, table.concat
  local args = require "green.args"
  local STATE_OPTIONS = {transitions_to = true, on_start = true}

  --- The error raised for a transition the current state does not list.
  -- Fields: `from`, `to` (state names) and `message`.
  local ValidationError = {}
  ValidationError.__index = ValidationError
  ValidationError.__name = "ValidationError"
  ValidationError.__tostring = function(e) return e.message end
  green.ValidationError = ValidationError

  local function validation_error(from, to)
    local allowed = from.transitions_list
    local message = ("invalid transition from state '%s' to '%s' (%s)"):format(
      from.name, to.name, #allowed == 0 and ("'" .. from.name .. "' is terminal")
        or "it transitions to: " .. concat(allowed, ", "))
    return setmetatable({from = from.name, to = to.name, message = message},
      ValidationError)
  end


  -- ------------------------------------------------------------ machines

  --- A machine: the state it is in (or ended in) and that state's greenlet.
  -- @field state the current (or final) state's name; nil before any start
  -- @field greenlet that state's greenlet
  local Machine = {}
  Machine.__index = Machine
  Machine.__name = "Machine"

  local machines = setmetatable({}, {__mode = "k"})   -- states or object -> Machine

  local function machine_of(key)
    local m = machines[key]
    if m == nil then
      m = setmetatable({_ended = Event()}, Machine)
      m._ended:set()
      machines[key] = m
    end
    return m
  end

  --- true while a state greenlet runs (or is about to).
  function Machine:running()
    return not self._ended:is_set()
  end

  --- Wait until the machine ends: its state returned without a transition
  -- (a terminal state's does), failed, or was killed. Returns true, or
  -- nil, "timeout".
  function Machine:join(timeout)
    if self._ended:wait(timeout) then return true end
    return nil, "timeout"
  end

  -- The wait protocol of green.wait and green.iwait.
  function Machine:wait(timeout) return self._ended:wait(timeout) end
  function Machine:ready() return self._ended:is_set() end

  --- Kill the current state greenlet, which ends the machine.
  function Machine:kill(err, opts)
    if self.greenlet ~= nil then return self.greenlet:kill(err, opts) end
  end

  --- The machine of a states table (function form) or of an object (method
  -- form), made on first use.
  function green.machine(key)
    if type(key) ~= "table" then
      error("bad argument #1 to 'machine' (states table or object expected, got "
        .. type(key) .. ")", 2)
    end
    return machine_of(key)
  end


  -- ------------------------------------------------------------ states

  local State = {}
  State.__index = State
  State.__name = "State"

  -- When a state greenlet ends and the machine is still its (no transition
  -- replaced it), the machine ends.
  local function end_of(m, g)
    if m.greenlet == g then m._ended:set() end
  end

  -- A state greenlet's body. Its end is seen at once from the inside; the
  -- link in `enter` covers a greenlet killed before it started.
  local function body(m, state, gate, ...)
    local me = getcurrent()
    local _ <close> = setmetatable({}, {__close = function() end_of(m, me) end})
    if gate ~= nil then gate:wait() end
    return state.fn(...)
  end

  local function call_on_start(state, g, target, ...)
    if target ~= nil then return state.on_start(g, target, select(2, ...)) end
    return state.on_start(g, nil, ...)
  end

  -- Make the state greenlet for `state` (not started yet), run on_start
  -- with it, and make it the machine's. On error nothing has changed.
  local function enter(m, state, target, ...)
    local gate = state.on_start and Event()
    local g = spawn(body, m, state, gate, ...)
    g.name = state.name
    g:link(function() end_of(m, g) end)
    if gate ~= nil then
      local ok, err = pcall(call_on_start, state, g, target, ...)
      if not ok then
        g:kill(nil, {block = false})
        error(err, 0)
      end
    end
    m.state, m.greenlet, m.current = state.name, g, state
    m._ended:clear()
    if gate ~= nil then gate:set() end
    return g
  end

  -- From outside, while the machine runs: kill the old state greenlet
  -- (waiting until it has ended), then enter. If that fails, the machine
  -- has ended in the old state.
  local function replace(m, old, state, target, ...)
    m.greenlet = nil                  -- so the old one's end is not the machine's
    m.switching = true
    local ok, g = pcall(function(...)
      old:kill(nil, {block = true})
      return enter(m, state, target, ...)
    end, ...)
    m.switching = nil
    if not ok then
      m.greenlet = old
      m._ended:set()
      error(g, 0)
    end
    return g
  end

  local function check_transition(m, state)
    local from = m.current
    if not from.transitions[state.name] then error(validation_error(from, state), 3) end
  end

  -- Which machine a call of `state` drives, and its target object (nil in
  -- the function form).
  local function resolve(state, first)
    if type(first) == "table" and rawequal(first[state.name], state) then
      return machine_of(first), first
    end
    return machine_of(state.states), nil
  end

  function State.__call(state, ...)
    if state.name == nil then
      error("this state has no name: store it in a table made by green.states()", 2)
    end
    local m, target = resolve(state, (...))
    if m.switching then
      error(("cannot start state '%s': the machine is being moved to another " ..
        "state from outside"):format(state.name), 2)
    end
    local old = m.greenlet
    if old == nil or not m:running() then
      return enter(m, state, target, ...)
    end
    check_transition(m, state)
    if old == getcurrent() then         -- from inside: replace this greenlet
      enter(m, state, target, ...)
      error(GreenletExit, 0)
    end
    return replace(m, old, state, target, ...)
  end

  local function transitions_of(spec)
    local list = type(spec) == "string" and {spec} or spec or {}
    if type(list) ~= "table" then
      error("bad argument #1 to 'state' (transitions_to must be a state name " ..
        "or a list of them)", 3)
    end
    local set = {}
    for i, name in ipairs(list) do
      if type(name) ~= "string" then
        error(("bad argument #1 to 'state' (transitions_to item %d is not a " ..
          "state name)"):format(i), 3)
      end
      set[name] = true
    end
    return set, list
  end

  --- A state: `fn` runs in the state's greenlet. Options:
  -- `transitions_to` (a state name or a list of them: the only states this
  -- one may call; none makes it terminal) and `on_start(new_state_greenlet,
  -- target, ...)`, run on the greenlet that starts the state, before the
  -- state starts, with the target object (nil in the function form) and
  -- the state's arguments. The state is named by the key it is stored under
  -- in a table made by `green.states`.
  function green.state(opts, fn)
    if fn == nil and type(opts) == "function" then opts, fn = {}, opts end
    args.check_options(opts, 1, "state", STATE_OPTIONS)
    args.check_function(fn, 2, "state")
    if opts.on_start ~= nil and type(opts.on_start) ~= "function" then
      error("bad argument #1 to 'state' (on_start must be a function)", 2)
    end
    local set, list = transitions_of(opts.transitions_to)
    return setmetatable({fn = fn, transitions = set, transitions_list = list,
                         on_start = opts.on_start}, State)
  end

  local function name_state(states, name, value)
    if getmetatable(value) == State then
      if value.name ~= nil and (value.name ~= name or value.states ~= states) then
        error(("this state is already named '%s'"):format(value.name), 3)
      end
      value.name, value.states = name, states
    end
  end

  --- A table that names each state by the key it is stored under: a new
  -- one, or `tbl` (a class table, say), whose states already stored are
  -- named too. Returns the table.
  function green.states(tbl)
    tbl = tbl or {}
    if type(tbl) ~= "table" then
      error("bad argument #1 to 'states' (table expected, got " .. type(tbl) .. ")", 2)
    end
    local mt = getmetatable(tbl)
    if mt == nil then
      mt = {}
      setmetatable(tbl, mt)
    elseif type(mt) ~= "table" or rawget(mt, "__newindex") ~= nil then
      error("bad argument #1 to 'states' (its metatable already has __newindex)", 2)
    end
    for k, v in pairs(tbl) do name_state(tbl, k, v) end
    mt.__newindex = function(t, k, v)
      name_state(t, k, v)
      rawset(t, k, v)
    end
    return tbl
  end
end
