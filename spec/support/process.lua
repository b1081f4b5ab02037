-- Helpers for specs that run a program as a process of its own.
local M = {}

--- The build directory the specs test (make test sets GREEN_BUILD).
M.build = os.getenv("GREEN_BUILD") or "build/default"

--- Run a shell command; return its output (stdout and stderr) and exit code.
function M.run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

return M
