--- green.args: the argument checks of green's Lua modules. They raise
-- with Lua's standard messages ("bad argument #1 to 'spawn' (function
-- expected, got nil)"), blaming the caller of the function whose argument
-- it is; so call them from that function, and not as a tail call.
-- @module green.args

local type, getmetatable, error, pairs, tostring =
  type, getmetatable, error, pairs, tostring

local args = {}

local function bad(position, fname, problem)
  error(("bad argument #%d to '%s' (%s)"):format(position, fname, problem), 4)
end

--- Whether `v` can be called: a function, or a value whose metatable has
-- `__call`.
function args.callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

--- Raise unless `v`, argument `position` of `fname`, can be called.
function args.check_callable(v, position, fname)
  if not args.callable(v) then
    bad(position, fname, "function expected, got " .. type(v))
  end
end

--- Raise unless `v`, argument `position` of `fname`, is a Lua or C
-- function (what a worker thread or a state machine needs).
function args.check_function(v, position, fname)
  if type(v) ~= "function" then
    bad(position, fname, "function expected, got " .. type(v))
  end
end

--- Raise unless `opts`, argument `position` of `fname`, is a table whose
-- keys are all in the set `known`.
function args.check_options(opts, position, fname, known)
  if type(opts) ~= "table" then
    bad(position, fname, "table of options expected, got " .. type(opts))
  end
  for k in pairs(opts) do
    if not known[k] then
      bad(position, fname, ("unknown option '%s'"):format(tostring(k)))
    end
  end
end

return args
