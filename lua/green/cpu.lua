--- cpu_bound: Lua functions run on worker threads while the calling
-- greenlet waits and the loop and every other greenlet keep running.
--
--    local digest = green.cpu_bound(function(data) return sha256(data) end)
--    local d = digest(big_string)           -- runs on a worker thread
--
-- The function travels as bytecode with copies of its upvalues (its _ENV
-- becomes the worker's globals); arguments and results are copied: nil,
-- booleans, numbers, strings, tables (shared and cyclic references kept),
-- Lua functions, and C functions a loaded module exports. Anything else is
-- refused with an error naming where it was found. Each worker has a Lua
-- state of its own with the standard libraries and the caller's
-- package.path and package.cpath, so `require` works there; green's
-- blocking functions do not, and `cpu_bound` inside a worker runs inline.
-- An error on the worker is raised in the caller with the worker's
-- traceback. A caller killed (or timed out) while its task runs leaves at
-- once; the task finishes on the worker and its result is dropped.
-- @module green.cpu

return function(green)
  local core = require "green.core"
  local ThreadPool, on_worker = core.ThreadPool, core.on_worker
  local args = require "green.args"

  local default
  local function default_pool()
    if default == nil then default = ThreadPool() end
    return default
  end

  --- A pool of `threads` worker threads (nil or 0: one per CPU; 1: a
  -- single worker thread, whose tasks run one at a time in order). Methods:
  -- `:run(fn, ...)` (fn's results, from a worker), `:threads()`, and
  -- `:close()` (also `<close>`), which waits for the running tasks.
  function green.threadpool(threads)
    return ThreadPool(threads)
  end

  --- Wrap `fn`: each call runs it on a worker thread of `pool` (default:
  -- a pool with a thread per CPU, made on first use) and returns its
  -- results. Called on a worker thread, it runs inline.
  function green.cpu_bound(fn, pool)
    args.check_function(fn, 1, "cpu_bound")
    return function(...)
      if on_worker() then return fn(...) end
      return (pool or default_pool()):run(fn, ...)
    end
  end

  --- Like `cpu_bound`, but a call runs inline when `pred(...)` is false:
  -- for functions worth a thread only on large inputs.
  function green.cpu_bound_if(pred, fn, pool)
    args.check_function(pred, 1, "cpu_bound_if")
    args.check_function(fn, 2, "cpu_bound_if")
    return function(...)
      if pred(...) and not on_worker() then
        return (pool or default_pool()):run(fn, ...)
      end
      return fn(...)
    end
  end
end
