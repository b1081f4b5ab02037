-- Two figures a Lua benchmark compares: nanoseconds per operation of fa(n)
-- and of fb(n), each the median of 7 runs, the runs of the two taking
-- turns so that a slow spell of a shared machine weighs on both alike.
-- settle, if given, runs untimed before every run.
local clock = os.clock

local function timed(fn, n, settle)
  if settle then settle() end
  local start = clock()
  fn(n)
  return (clock() - start) * 1e9 / n
end

return function(fa, fb, n, settle)
  local a, b = {}, {}
  fa(n // 10)
  fb(n // 10)
  for i = 1, 7 do
    a[i] = timed(fa, n, settle)
    b[i] = timed(fb, n, settle)
  end
  table.sort(a)
  table.sort(b)
  return a[4], b[4]
end
