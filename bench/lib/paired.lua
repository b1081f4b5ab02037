-- Two figures a Lua benchmark compares: nanoseconds per operation of fa(n)
-- and of fb(n), each the median of 7 runs, the runs of the two taking
-- turns so that a slow spell of a shared machine weighs on both alike.
local clock = os.clock

local function timed(fn, n)
  local start = clock()
  fn(n)
  return (clock() - start) * 1e9 / n
end

return function(fa, fb, n)
  local a, b = {}, {}
  fa(n // 10)
  fb(n // 10)
  for i = 1, 7 do
    a[i] = timed(fa, n)
    b[i] = timed(fb, n)
  end
  table.sort(a)
  table.sort(b)
  return a[4], b[4]
end
