-- green.Queue, LifoQueue, PriorityQueue, JoinableQueue and Channel.
local green = require "green"

local function collect(q)
  local items = {}
  while not q:empty() do items[#items + 1] = q:get() end
  return items
end

describe("green.Queue", function()
  it("is FIFO, bounded by maxsize, and answers qsize/empty/full/#", function()
    local q = green.Queue(3)
    assert.is_true(q:empty())
    for i = 1, 3 do assert.is_true(q:put(i)) end
    assert.is_true(q:full())
    assert.equals(3, q:qsize())
    assert.equals(3, #q)
    assert.same({nil, "full"}, {q:put_nowait(4)})
    assert.same({nil, "timeout"}, {q:put(4, 0.01)})
    assert.same({1, 2, 3}, collect(q))
    assert.same({nil, "empty"}, {q:get_nowait()})
    assert.same({nil, "timeout"}, {q:get(0.01)})
  end)

  it("grows without bound when maxsize is nil or <= 0, keeping order", function()
    for _, q in ipairs{green.Queue(), green.Queue(0), green.Queue(-1)} do
      for i = 1, 1000 do q:put(i) end
      assert.is_false(q:full())
      for i = 1, 500 do assert.equals(i, q:get()) end
      for i = 1001, 1600 do q:put(i) end
      for i = 501, 1600 do assert.equals(i, q:get()) end
    end
  end)

  it("refuses nil as an item, and takes false", function()
    local q = green.Queue()
    assert.has_error(function() q:put(nil) end, "bad argument #1 to 'put' (nil cannot be an item)")
    assert.is_true(q:put(false))
    assert.is_false(q:get())
  end)

  it("wakes getters in the order they began to wait", function()
    local q, got = green.Queue(), {}
    for i = 1, 3 do
      green.spawn(function()
        local item = q:get()
        got[#got + 1] = {i, item}
      end)
    end
    green.sleep(0)
    for i = 1, 3 do q:put("item" .. i) end
    green.sleep(0)
    assert.same({{1, "item1"}, {2, "item2"}, {3, "item3"}}, got)
  end)

  it("takes waiting putters' items in the order they began to wait", function()
    local q = green.Queue(1)
    q:put(0)
    for i = 1, 3 do green.spawn(function() assert(q:put(i)) end) end
    green.sleep(0)
    local got = {}
    for _ = 1, 4 do got[#got + 1] = q:get() end
    assert.same({0, 1, 2, 3}, got)
  end)

  it("a getter that times out or is killed consumes nothing", function()
    local q = green.Queue()
    local timed = green.spawn(function() return q:get(0.01) end)
    local killed = green.spawn(function() return q:get() end)
    green.sleep(0)
    killed:kill()
    assert.same({nil, "timeout"}, {timed:get()})
    assert.is_true(killed:successful())   -- GreenletExit
    q:put("kept")
    assert.equals("kept", q:get(0))
  end)

  it("a putter that times out or is killed adds nothing", function()
    local q = green.Queue(1)
    q:put("first")
    local timed = green.spawn(function() return q:put("late", 0.01) end)
    local killed = green.spawn(function() return q:put("killed") end)
    green.sleep(0)
    killed:kill()
    assert.same({nil, "timeout"}, {timed:get()})
    assert.same({"first"}, collect(q))
    assert.same({nil, "empty"}, {q:get_nowait()})
  end)

  it("a Timeout raises out of a waiting get, and nothing is consumed", function()
    local q = green.Queue()
    local t = green.Timeout(0.01)
    t:start()
    local ok, err = pcall(q.get, q)
    assert.is_false(ok)
    assert.equals(t, err)
    q:put(1)
    assert.equals(1, q:qsize())
  end)

  it("an item handed to a getter that is then killed is still delivered", function()
    local q, got = green.Queue(), nil
    local g = green.spawn(function() got = q:get(); green.sleep(1) end)
    green.sleep(0)
    q:put("mine")
    g:kill()                       -- before g ran again
    g:join()
    assert.equals("mine", got)
    assert.equals(0, q:qsize())
  end)

  it("close wakes every waiter with nil, 'closed' and lets items drain", function()
    local q = green.Queue(1)
    local getter_q = green.Queue()
    local getter = green.spawn(function() return getter_q:get() end)
    q:put("left")
    local putter = green.spawn(function() return q:put("refused") end)
    green.sleep(0)
    q:close()
    getter_q:close()
    assert.same({nil, "closed"}, {putter:get()})
    assert.same({nil, "closed"}, {getter:get()})
    assert.is_true(q:closed())
    assert.same({nil, "closed"}, {q:put("after")})
    assert.equals("left", q:get())
    assert.same({nil, "closed"}, {q:get()})
  end)

  it("iterates with iter() until closed", function()
    local q, seen = green.Queue(2), {}
    green.spawn(function()
      for i = 1, 5 do q:put(i) end
      q:close()
    end)
    for item in q:iter() do seen[#seen + 1] = item end
    assert.same({1, 2, 3, 4, 5}, seen)
  end)

  it("peek shows the next item without taking it, waiting for one", function()
    local q = green.Queue()
    assert.same({nil, "empty"}, {q:peek(0)})
    assert.same({nil, "timeout"}, {q:peek(0.01)})
    green.spawn(function() q:put("x") end)
    assert.equals("x", q:peek())
    assert.equals(1, q:qsize())
  end)

  it("loses nothing and duplicates nothing among many greenlets with timeouts and kills", function()
    local q, sent, received, seen = green.Queue(3), 0, 0, {}
    local putters, getters = {}, {}
    for p = 1, 20 do
      putters[p] = green.spawn(function()
        for i = 1, 50 do
          if q:put(p * 1000 + i, (i % 3) * 0.0005) then sent = sent + 1 end
        end
      end)
    end
    for g = 1, 6 do
      getters[g] = green.spawn(function()
        while true do
          local item, err = q:get(0.002 * g)
          if err == "closed" then return end
          if item then
            assert.is_nil(seen[item])
            seen[item] = true
            received = received + 1
          end
        end
      end)
    end
    green.sleep(0)
    getters[1]:kill()
    green.joinall(putters)
    q:close()
    green.joinall(getters)
    assert.is_true(sent > 0)
    assert.equals(sent, received + q:qsize())
  end)
end)

describe("green.LifoQueue", function()
  it("returns the newest item first", function()
    local q = green.LifoQueue()
    for i = 1, 3 do q:put(i) end
    assert.same({3, 2, 1}, collect(q))
  end)
end)

describe("green.PriorityQueue", function()
  it("returns the smallest item first, by <", function()
    local q = green.PriorityQueue()
    for _, v in ipairs{5, 3, 8, 1, 9, 2, 7} do q:put(v) end
    assert.same({1, 2, 3, 5, 7, 8, 9}, collect(q))
  end)

  it("orders by a key function", function()
    local q = green.PriorityQueue(nil, function(task) return task.priority end)
    q:put({name = "low", priority = 9})
    q:put({name = "high", priority = 1})
    q:put({name = "mid", priority = 5})
    assert.equals("high", q:get().name)
    assert.equals("mid", q:get().name)
    assert.equals("low", q:get().name)
  end)

  it("refuses a key that cannot be compared, before changing anything", function()
    local q = green.PriorityQueue()
    q:put(1)
    assert.has_error(function() q:put({}) end)
    assert.equals(1, q:qsize())
    assert.equals(1, q:get())
  end)

  it("stays a heap under many random puts and gets", function()
    local q, model = green.PriorityQueue(), {}
    local seed = 7
    local function random(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
    for _ = 1, 2000 do
      if random(3) > 0 or #model == 0 then
        local v = random(1000)
        q:put(v); model[#model + 1] = v
      else
        table.sort(model)
        assert.equals(table.remove(model, 1), q:get())
      end
    end
    table.sort(model)
    assert.same(model, collect(q))
  end)
end)

describe("green.JoinableQueue", function()
  it("join waits until every item is task_done", function()
    local q, done = green.JoinableQueue(), {}
    for i = 1, 5 do q:put(i) end
    green.spawn(function()
      for item in q:iter() do
        green.sleep(0.001)
        done[#done + 1] = item
        q:task_done()
      end
    end)
    assert.is_true(q:join(10))
    assert.same({1, 2, 3, 4, 5}, done)
    assert.equals(0, q:unfinished_tasks())
    q:close()
  end)

  it("join times out with false; task_done too often raises", function()
    local q = green.JoinableQueue()
    q:put(1)
    assert.is_false(q:join(0.01))
    q:get()
    q:task_done()
    assert.has_error(function() q:task_done() end,
                     "task_done() called more times than items were put")
  end)

  it("only JoinableQueue has join and task_done", function()
    assert.is_nil(green.Queue().join)
    assert.is_nil(green.Queue().task_done)
  end)
end)

describe("green.Channel", function()
  it("hands each item from a putter to a getter, with no buffer", function()
    local ch = green.Channel()
    assert.same({nil, "full"}, {ch:put_nowait(1)})
    assert.same({nil, "timeout"}, {ch:put(1, 0.01)})
    local putter = green.spawn(function() return ch:put("hello") end)
    green.sleep(0)
    assert.is_true(ch:ready())
    assert.equals("hello", ch:peek())
    assert.equals("hello", ch:get())
    assert.is_true(putter:get())
    assert.equals(0, ch:qsize())
  end)

  it("put waits until a getter has the item", function()
    local ch, log = green.Channel(), {}
    green.spawn(function()
      green.sleep(0.01)
      log[#log + 1] = "getter came"
      log[#log + 1] = "got " .. ch:get()
    end)
    ch:put("x")
    log[#log + 1] = "put returned"
    assert.same({"getter came", "got x", "put returned"}, log)
  end)

  it("close ends the iteration of every getter", function()
    local ch, got = green.Channel(), {}
    local getters = {}
    for i = 1, 2 do
      getters[i] = green.spawn(function() for item in ch:iter() do got[#got + 1] = item end end)
    end
    for i = 1, 4 do ch:put(i) end
    ch:close()
    green.joinall(getters)
    table.sort(got)
    assert.same({1, 2, 3, 4}, got)
  end)
end)

describe("queues and green.wait", function()
  it("wait returns the first ready among queues, events and greenlets", function()
    local q, ev = green.Queue(), green.Event()
    local slow = green.spawn(green.sleep, 5)
    green.spawn(function() green.sleep(0.01); q:put("x") end)
    local ready = green.wait({ev, q, slow}, 5, 1)
    assert.equals(1, #ready)
    assert.equals(q, ready[1])
    assert.equals("x", q:get(0))      -- wait took nothing
    slow:kill()
  end)

  it("queue:wait reports readiness without taking", function()
    local q = green.Queue()
    assert.is_false(q:wait(0.01))
    q:put(1)
    assert.is_true(q:wait(0))
    assert.equals(1, q:qsize())
  end)
end)
