-- A burst: 200,000 greenlets spawned whose functions return at once, then
-- joined all together (green.joinall), against 200,000 coroutines created
-- and then resumed one by one; with green.spawn and with green.spawn_raw.
-- Each run is a process of its own, so that its peak RSS (VmHWM) is its
-- own; the figures are medians of 5 runs, the kinds taking turns.
local N = 200000
local LUA = os.getenv("LUA") or "lua5.4"

local function peak_rss_mib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmHWM:%s+(%d+)")
    if kib then return tonumber(kib) / 1024 end
  end
end

local kinds = {}

local function empty() end

function kinds.coroutine(n)
  local create, resume = coroutine.create, coroutine.resume
  local list = {}
  for i = 1, n do list[i] = create(empty) end
  for i = 1, n do resume(list[i]) end
end

local function burst(spawn, n)
  local green = require "green"
  local list = {}
  for i = 1, n do list[i] = green[spawn](empty) end
  green.joinall(list)
end

function kinds.spawn(n) burst("spawn", n) end
function kinds.spawn_raw(n) burst("spawn_raw", n) end

-- One run, in this process: ns per item and the peak RSS.
if arg[1] == "run" then
  if arg[2] ~= "coroutine" then require "green" end   -- loaded untimed
  local start = os.clock()
  kinds[arg[2]](N)
  io.write(("%.1f %.1f\n"):format((os.clock() - start) * 1e9 / N, peak_rss_mib()))
  os.exit(0)
end

local function run(kind)
  local p = assert(io.popen(("%s %s run %s"):format(LUA, arg[0], kind)))
  local ns, rss = p:read("n", "n")
  p:close()
  return ns, rss
end

local order = {"coroutine", "spawn", "spawn_raw"}
local times, peaks = {}, {}
for _, kind in ipairs(order) do times[kind], peaks[kind] = {}, {} end
for i = 1, 5 do
  for _, kind in ipairs(order) do
    times[kind][i], peaks[kind][i] = run(kind)
  end
end
local function median(t) table.sort(t) return t[3] end
local co_ns, co_rss = median(times.coroutine), median(peaks.coroutine)
for _, kind in ipairs{"spawn", "spawn_raw"} do
  local ns, rss = median(times[kind]), median(peaks[kind])
  print(("lua burst    %d green.%s + joinall %7.0f ns each, peak RSS %4.0f MiB   coroutine.create + resume %5.0f ns, %4.0f MiB   ratio %.2fx time, %.2fx RSS   (target <= %s time, 1.5x RSS)")
    :format(N, kind, ns, rss, co_ns, co_rss, ns / co_ns, rss / co_rss,
            kind == "spawn" and "1.5x" or "1.2x"))
end
