-- Entity scripts for examples/lua_game_loop.c, in plain blocking style:
-- each entity is a greenlet that moves, then sleeps, forever.
local green = require "green"

return function(id, step, pause)
  while true do
    world.move(id, step)
    green.sleep(pause)
  end
end
