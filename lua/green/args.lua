--- green.args: the argument checks of green's Lua modules. They raise
-- with Lua's standard messages ("bad argument #1 to 'spawn' (function
-- expected, got nil)"), blaming the caller of the function whose argument
-- it is; so call them from that function, and not as a tail call. A check
-- made from a helper of that function passes how many helpers lie between
-- as its last argument, `extra`.
-- @module green.args

local type, getmetatable, error, pairs, tostring =
  type, getmetatable, error, pairs, tostring

local args = {}

local function bad(position, fname, problem, extra)
  error(("bad argument #%d to '%s' (%s)"):format(position, fname, problem),
    4 + (extra or 0))
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

--- Raise unless `v`, argument `position` of `fname`, is a table.
function args.check_table(v, position, fname, extra)
  if type(v) ~= "table" then
    bad(position, fname, "table expected, got " .. type(v), extra)
  end
end

--- Raise unless `v`, argument `position` of `fname`, is nil or a number of
-- seconds: at least 0, and not NaN (the C functions' words).
function args.check_seconds(v, position, fname, extra)
  if v == nil then return end
  if type(v) ~= "number" then
    bad(position, fname, "number expected, got " .. type(v), extra)
  elseif v ~= v then
    bad(position, fname, "must not be NaN", extra)
  elseif v < 0 then
    bad(position, fname, "must not be negative", extra)
  end
end

--- Raise unless `v`, argument `position` of `fname`, is nil or an integer
-- of at least 0.
function args.check_count(v, position, fname, extra)
  if v == nil then return end
  if math.type(v) ~= "integer" then
    bad(position, fname, "integer expected, got " .. (math.type(v) or type(v)), extra)
  elseif v < 0 then
    bad(position, fname, "must not be negative", extra)
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
