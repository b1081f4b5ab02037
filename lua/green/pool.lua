--- green.Group, green.Pool and green.TaskGroup: sets of greenlets managed
-- together, as gevent's Group and Pool; a TaskGroup fails fast, as Trio's
-- nursery or Go's errgroup.
-- @module green.pool

return function(green)
  local setmetatable, getmetatable, error, type, huge =
    setmetatable, getmetatable, error, type, math.huge
  local args = require "green.args"

  local Group = {}
  Group.__index = Group
  Group.__name = "Group"

  local function init(self)
    self._members, self._count = {}, 0
    self._empty = green.Event()
    self._empty:set()
    self._on_death = function(g) self:discard(g) end
    return self
  end

  --- An unbounded set of greenlets.
  function green.Group()
    return init(setmetatable({}, Group))
  end

  local function check_greenlet(g, what)
    if type(g) ~= "userdata" or getmetatable(g) ~= getmetatable(green.getcurrent()) then
      error(("bad argument #1 to '%s' (Greenlet expected, got %s)"):format(what, type(g)), 3)
    end
  end

  -- Members are added only once they hold a slot (Pool).
  function Group:_admit(g)
    self._members[g] = true
    self._count = self._count + 1
    self._empty:clear()
    g:link(self._on_death)
  end

  --- Add a running greenlet; it leaves the group when it finishes.
  function Group:add(g)
    check_greenlet(g, "add")
    if self._members[g] or g:dead() then return end
    self:_acquire_slot()
    self:_admit(g)
  end

  --- Remove a greenlet from the group (it keeps running).
  function Group:discard(g)
    if not self._members[g] then return end
    self._members[g] = nil
    self._count = self._count - 1
    g:unlink(self._on_death)
    self:_release_slot()
    if self._count == 0 then self._empty:set() end
  end

  function Group:_acquire_slot() end
  function Group:_release_slot() end

  -- A member spawned by the group leaves it as its function ends (returns,
  -- raises or is killed), before anyone joining it can run: a Pool's slot
  -- is free and the group's state exact once the greenlet is dead.
  local function leaving(self)
    return setmetatable({}, {__close = function(_, err)
      self:_member_ended(green.getcurrent(), err)
    end})
  end

  local function member(self, fn, ...)
    local leave <close> = leaving(self)
    return fn(...)
  end

  function Group:_member_ended(g) self:discard(g) end

  --- Spawn `fn(...)` as a member; a Pool waits for a free slot first.
  function Group:spawn(fn, ...)
    args.check_callable(fn, 1, "spawn")
    self:_acquire_slot()
    local ok, g = pcall(green.spawn, member, self, fn, ...)
    if not ok then self:_release_slot(); error(g, 2) end
    self:_admit(g)
    return g
  end

  --- The members, as a list.
  function Group:greenlets()
    local list = {}
    for g in pairs(self._members) do list[#list + 1] = g end
    return list
  end

  function Group:__len() return self._count end

  --- Whether g is a member.
  function Group:has(g) return self._members[g] == true end

  --- Wait until every member has finished: true, or false if `timeout`
  -- seconds pass first. With `raise_error`, re-raise the first error among
  -- the members that finished meanwhile.
  function Group:join(timeout, raise_error)
    local members = self:greenlets()
    local done = self._empty:wait(timeout)
    if raise_error then
      for _, g in ipairs(members) do
        if g:dead() and not g:successful() then error(g.exception, 0) end
      end
    end
    return done
  end

  --- For green.wait / green.iwait: ready once empty.
  function Group:ready() return self._count == 0 end
  function Group:wait(timeout) return self._empty:wait(timeout) end

  --- Kill every member with `err` (default GreenletExit); with
  -- opts.block (the default) wait for them, at most opts.timeout.
  function Group:kill(err, opts)
    local members = self:greenlets()
    green.killall(members, err, opts)
    -- One killed before it started never ran its leaving code.
    for _, g in ipairs(members) do
      if g:dead() then self:discard(g) end
    end
  end

  --- Run `fn(...)` in a member and return its results (or raise its error).
  function Group:apply(fn, ...)
    args.check_callable(fn, 1, "apply")
    return self:spawn(fn, ...):get()
  end

  --- A Pool admits at most `size` members at once.
  function Group:free_count() return huge end
  function Group:wait_available() return true end

  -- Kill a member without waiting; one killed before it started never
  -- runs its leaving code, so it leaves here.
  local function stop_member(self, g)
    g:kill(nil, {block = false})
    if g:dead() then self:discard(g) end
  end

  -- Spawn fn(item) for every item from a feeder greenlet, so the caller
  -- can consume while a Pool waits for slots; `each(g, i)` sees each one.
  -- A kill reaches a feeder that is ready only at its next wait, so it
  -- also looks at `stopped` before and after each spawn.
  local function feed(self, fn, list, each)
    local feeding = {stopped = false}
    feeding.greenlet = green.spawn(function()
      for i = 1, #list do
        if feeding.stopped then return end
        local g = self:spawn(fn, list[i])
        if feeding.stopped then return stop_member(self, g) end
        each(g, i)
      end
    end)
    return feeding
  end

  -- What an imap starts for its caller (the feeder, the members it fed)
  -- ends when the caller leaves the loop, however it leaves: a for loop
  -- closes this fourth value on break, an error or a kill.
  local function closer(self, feeding, members)
    return setmetatable({}, {__close = function()
      feeding.stopped = true
      feeding.greenlet:kill(nil, {block = false})
      for _, g in pairs(members) do stop_member(self, g) end
    end})
  end

  --- `fn(item)` for each item, in members; the first results in order.
  -- Re-raises the first error, in order.
  function Group:map(fn, list)
    args.check_callable(fn, 1, "map")
    args.check_table(list, 2, "map")
    local results = {}
    for i, value in self:imap(fn, list) do results[i] = value end
    return results
  end

  --- An iterator over `i, fn(list[i])` in order, as each is ready.
  function Group:imap(fn, list)
    args.check_callable(fn, 1, "imap")
    args.check_table(list, 2, "imap")
    local spawned, arrived = {}, green.Event()
    local feeding = feed(self, fn, list, function(g, i)
      spawned[i] = g
      arrived:set()
    end)
    local i = 0
    return function()
      if i >= #list then return nil end
      i = i + 1
      while spawned[i] == nil do arrived:clear(); arrived:wait() end
      return i, spawned[i]:get()
    end, nil, nil, closer(self, feeding, spawned)
  end

  --- An iterator over `i, fn(list[i])` in the order they finish.
  function Group:imap_unordered(fn, list)
    args.check_callable(fn, 1, "imap_unordered")
    args.check_table(list, 2, "imap_unordered")
    local finished = green.Queue()
    local function run(i)
      local ok, value = pcall(fn, list[i])
      finished:put({i, ok, value})
    end
    local indexes, members = {}, {}
    for i = 1, #list do indexes[i] = i end
    local feeding = feed(self, run, indexes, function(g, i) members[i] = g end)
    local taken = 0
    return function()
      if taken >= #list then return nil end
      taken = taken + 1
      local done = finished:get()
      if not done[2] then error(done[3], 0) end
      return done[1], done[3]
    end, nil, nil, closer(self, feeding, members)
  end

  function Group:__tostring()
    return ("%s (%d members)"):format(getmetatable(self).__name, self._count)
  end


  local Pool = setmetatable({}, {__index = Group})
  for k, v in pairs(Group) do if k:sub(1, 2) == "__" then Pool[k] = v end end
  Pool.__index = Pool
  Pool.__name = "Pool"

  --- A Group of at most `size` members at once: spawn and add wait for a
  -- free slot, in the order they asked.
  function green.Pool(size)
    if math.type(size) ~= "integer" or size < 1 then
      error(("bad argument #1 to 'Pool' (positive integer expected, got %s)")
        :format(math.type(size) and tostring(size) or type(size)), 2)
    end
    local self = init(setmetatable({}, Pool))
    self.size, self._slots = size, green.Semaphore(size)
    return self
  end

  function Pool:_acquire_slot() assert(self._slots:acquire()) end
  function Pool:_release_slot() self._slots:release() end

  --- Slots free now.
  function Pool:free_count() return self._slots:value() end

  --- Wait until a slot is free, without taking it: true, or false if
  -- `timeout` seconds pass first.
  function Pool:wait_available(timeout) return self._slots:wait(timeout) end


  local TaskGroup = setmetatable({}, {__index = Group})
  for k, v in pairs(Group) do if k:sub(1, 2) == "__" then TaskGroup[k] = v end end
  TaskGroup.__index = TaskGroup
  TaskGroup.__name = "TaskGroup"

  --- A fail-fast Group: when a member fails, the others are killed and
  -- `join` re-raises the first error. Usable with `<close>`: leaving the
  -- scope joins the members, or kills them if the scope is left by an
  -- error, and re-raises the first member error.
  function green.TaskGroup()
    return init(setmetatable({}, TaskGroup))
  end

  -- A member's error (not GreenletExit) is the group's: the first is kept
  -- and the other members are killed, before the member leaves.
  function TaskGroup:_member_ended(g, err)
    if err ~= nil and err ~= green.GreenletExit and self.error == nil then
      self.error = err
      for other in pairs(self._members) do
        if other ~= g then other:kill(nil, {block = false}) end
      end
    end
    self:discard(g)
  end

  --- Wait for every member; re-raise the first member error. Returns
  -- false if `timeout` seconds pass first.
  function TaskGroup:join(timeout)
    local done = self._empty:wait(timeout)
    if done and self.error ~= nil then error(self.error, 0) end
    return done
  end

  function TaskGroup:__close(err)
    if err ~= nil then self:kill() end
    self:join()
  end

  green.GroupClass, green.PoolClass, green.TaskGroupClass = Group, Pool, TaskGroup
end
