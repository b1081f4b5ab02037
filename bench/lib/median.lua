-- The figure a Lua benchmark prints: nanoseconds per operation of fn(n),
-- the median of 7 runs after one warm-up run of n // 10.
local clock = os.clock

return function(fn, n)
  local runs = {}
  fn(n // 10)
  for i = 1, 7 do
    local start = clock()
    fn(n)
    runs[i] = (clock() - start) * 1e9 / n
  end
  table.sort(runs)
  return runs[4]
end
