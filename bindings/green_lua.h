/*
** green_lua.h: green for C hosts that embed Lua 5.4.
**
** A host that owns a lua_State runs Lua greenlets and C greenlets on the
** same hub: create the thread's hub with green_hub_new() first, then open
** green in the state (it adopts that hub), spawn Lua functions from C, and
** drive the hub with green_hub_run() or one green_hub_run_slice() a frame.
**
**   green_hub_new(NULL, &hub);
**   luaL_requiref(L, "green.core", luaopen_green_core, 0);
**   lua_pop(L, 1);
**   ... require "green" from Lua (lua/green/init.lua on package.path) ...
**   lua_getglobal(L, "entity"); lua_pushinteger(L, 1);
**   if (green_lua_spawn(L, 1) != LUA_OK) ... error message on the stack
**
** Close the state (lua_close) once its Lua greenlets have finished, and
** before green_hub_free: the Lua handles of C greenlets hold their records
** until then. green_set_data stays the host's, on every greenlet; the
** module keeps its own pointer with green_set_binding_data. Several states
** may be open on one hub at once, even calling into each other from a
** greenlet: each state has its own handle for a greenlet it did not spawn.
**
** Link with the Lua module's objects (libgreen_lua.a), libgreen and liblua
** (pkg-config --libs green-lua). A host that links only libgreen.so may
** instead let Lua require the installed module, which uses the process's
** libgreen: one runtime, one hub per thread, either way.
*/

#ifndef GREEN_LUA_H
#define GREEN_LUA_H

#include <lua.h>

#include "green.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open the module: what require "green.core" runs. Uses the calling
   thread's hub, or makes one. */
int luaopen_green_core(lua_State *L);

/* Open green.socket's C part: what require "green.socket.core" runs
   (opening green.core registers it in package.preload). */
int luaopen_green_socket_core(lua_State *L);

/* Spawn the function below nargs arguments at the top of L's stack as a
   Lua greenlet on this thread's hub. Pops them; pushes the Greenlet and
   returns LUA_OK, or pushes an error message and returns an error code.
   Does not block: the greenlet runs when the hub next runs. */
int green_lua_spawn(lua_State *L, int nargs);

/* Push a Lua object for the host's channel ch, through which C greenlets
   and Lua greenlets exchange pointers (light userdata in Lua): put(p,
   timeout), get(timeout), iter(), close(), closed(), qsize(), with the
   results of green.Channel. ch stays the host's: it must outlive every use
   of the object. */
void green_lua_push_channel(lua_State *L, green_channel_t *ch);

#ifdef __cplusplus
}
#endif

#endif
