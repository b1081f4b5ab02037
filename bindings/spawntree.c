/*
** spawntree.c: the spawn tree (gevent's), spawn-tree locals and run_info.
*/

#include <string.h>

#include "lgreen.h"

/*
** A child names its spawner by id, in a table {[id] = handle} weak in its
** values: a spawner is written to it once, however many it spawns, and
** the child does not keep it alive.
*/
static const char spawners_key = 's';

/* Push the spawner of the handle at ud; nil if green.spawn did not spawn
   it, or its spawner has been collected. */
void lgreen_push_spawner(lua_State *L, int ud) {
  lua_Integer id;
  if (lua_getiuservalue(L, ud, UV_SPAWNER) != LUA_TNUMBER) return;
  id = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lgreen_registry_table(L, &spawners_key, "v");
  lua_rawgeti(L, -1, id);
  lua_remove(L, -2);
}

static void remember_spawner(lua_State *L, lgreen *lg, int ud) {
  if (lg->is_spawner) return;
  lgreen_registry_table(L, &spawners_key, "v");
  lua_pushvalue(L, ud);
  lua_rawseti(L, -2, (lua_Integer)lg->id);
  lua_pop(L, 1);
  lg->is_spawner = 1;
}

/* Push the spawn-tree locals of the handle at ud (an absolute index), made
   on first use. */
static void push_tree_locals(lua_State *L, int ud) {
  int type = lua_getiuservalue(L, ud, UV_LOCALS), env;
  if (type == LUA_TTABLE) return;
  lua_pop(L, 1);
  if (type != LUA_TNONE) {
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, UV_LOCALS);
    return;
  }
  env = lgreen_push_env(L, ud);           /* a handle with UV_ENV alone */
  if (lua_rawgeti(L, env, ENV_LOCALS) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, env, ENV_LOCALS);
  }
  lua_remove(L, env);
}

/*
** Spawn sites are kept as {function, line, function, line, ...}: the
** greenlet's own, then its spawner's, and so on, at most SITES_MAX. A
** child keeps its own site in UV_SITE and site_line, and shares its
** spawner's sites; its own table is made only when it spawns in turn or
** someone asks. The tables are copied, not linked, so they outlive the
** ancestors; and capped, so a greenlet that spawns its successor before it
** ends, for ever, does not hold an ever longer record.
*/
#define SITES_MAX 10

/* Push the sites of the handle at ud (an absolute index), or nil if
   green.spawn did not spawn it. */
static void push_sites(lua_State *L, lgreen *lg, int ud) {
  int inherited = 0, i;
  if (lua_getiuservalue(L, ud, UV_SITES) == LUA_TTABLE) return;
  lua_pop(L, 1);
  if (lua_getiuservalue(L, ud, UV_SITE) <= LUA_TNIL) return;
  if (lua_getiuservalue(L, ud, UV_SPAWNER_SITES) == LUA_TTABLE)
    inherited = (int)lua_rawlen(L, -1);
  if (inherited > 2 * (SITES_MAX - 1)) inherited = 2 * (SITES_MAX - 1);
  lua_createtable(L, inherited + 2, 0);   /* [function, spawner's, sites] */
  lua_pushvalue(L, -3);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, lg->site_line);
  lua_rawseti(L, -2, 2);
  for (i = 1; i <= inherited; i++) {
    lua_rawgeti(L, -2, i);
    lua_rawseti(L, -2, i + 2);
  }
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, ud, UV_SITES);
}

/*
** The spawn tree (gevent's): the child shares its spawner's tables of
** spawn-tree locals and sites, keeps its spawner's id, and the function
** and line it was spawned from (cheap to take here; the source is looked
** up only when someone asks for .spawned_at). spawn_raw records none of
** this.
*/
void lgreen_record_spawn_tree(lua_State *L, int ud) {
  lgreen *lg = lua_touserdata(L, ud), *spawner;
  lua_Debug ar;
  int parent;
  spawner = lgreen_push_current(L);
  parent = lua_gettop(L);
  remember_spawner(L, spawner, parent);
  lua_pushinteger(L, (lua_Integer)spawner->id);
  lua_setiuservalue(L, ud, UV_SPAWNER);
  push_tree_locals(L, parent);
  lua_setiuservalue(L, ud, UV_LOCALS);
  push_sites(L, spawner, parent);
  lua_setiuservalue(L, ud, UV_SPAWNER_SITES);
  if (lua_getstack(L, 1, &ar)) {
    lua_getinfo(L, "fl", &ar);            /* pushes the calling function */
    lg->site_line = ar.currentline;
  } else {
    lua_pushboolean(L, 0);                /* called from C: no site */
  }
  lua_setiuservalue(L, ud, UV_SITE);
  lua_settop(L, parent - 1);
}


/* The current greenlet's table of spawn-tree locals, made if needed. */
static void push_current_tree_locals(lua_State *L) {
  lgreen_push_current(L);
  push_tree_locals(L, lua_gettop(L));
}

static int l_get_spawntree_local(lua_State *L) {
  luaL_checkany(L, 1);
  push_current_tree_locals(L);
  lua_pushvalue(L, 1);
  lua_rawget(L, -2);
  return 1;
}

static int l_set_spawntree_local(lua_State *L) {
  luaL_checkany(L, 1);
  luaL_argcheck(L, !lua_isnil(L, 1), 1, "name must not be nil");
  lua_settop(L, 2);
  push_current_tree_locals(L);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_rawset(L, -3);
  return 0;
}

/* Push where the handle at ud and its ancestors were spawned, one
   "source:line" a line; nil if it has no sites. */
void lgreen_push_spawned_at(lua_State *L, int ud) {
  luaL_Buffer b;
  int sites, n, i;
  lua_Debug ar;
  ud = lua_absindex(L, ud);
  push_sites(L, lua_touserdata(L, ud), ud);
  if (lua_isnil(L, -1)) return;
  sites = lua_gettop(L);
  n = (int)lua_rawlen(L, sites);
  luaL_buffinit(L, &b);
  for (i = 1; i < n; i += 2) {
    if (i > 1) luaL_addstring(&b, "\n");
    lua_rawgeti(L, sites, i);              /* the calling function */
    if (lua_isfunction(L, -1) && lua_getinfo(L, ">S", &ar)) {
      lua_rawgeti(L, sites, i + 1);
      lua_pushfstring(L, "%s:%d", ar.short_src, (int)lua_tointeger(L, -1));
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
      lua_pushliteral(L, "?");
    }
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_replace(L, sites);
}


/* Push a greenlet's name, or "#id" if it has none. */
static void push_label(lua_State *L, int ud) {
  lgreen *lg = lua_touserdata(L, ud);
  int top = lua_gettop(L);
  ud = lua_absindex(L, ud);
  if (lua_getiuservalue(L, ud, UV_ENV) == LUA_TTABLE &&
      lua_rawgeti(L, -1, ENV_NAME) == LUA_TSTRING) {
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return;
  }
  lua_settop(L, top);
  lua_pushfstring(L, "#%I", (lua_Integer)lg->id);
}

/* Push "main > #3 > #7": the handle at ud and its spawners, oldest first. */
static void push_tree_path(lua_State *L, int ud) {
  luaL_Buffer b;
  int parts, n = 0, i;
  ud = lua_absindex(L, ud);
  lua_newtable(L);
  parts = lua_gettop(L);
  lua_pushvalue(L, ud);
  while (n < 64 && lua_type(L, -1) == LUA_TUSERDATA) {
    push_label(L, -1);
    lua_rawseti(L, parts, ++n);
    lgreen_push_spawner(L, -1);
    lua_remove(L, -2);
  }
  lua_settop(L, parts);
  luaL_buffinit(L, &b);
  for (i = n; i >= 1; i--) {
    lua_rawgeti(L, parts, i);
    luaL_addvalue(&b);
    if (i > 1) luaL_addstring(&b, " > ");
  }
  luaL_pushresult(&b);
  lua_replace(L, parts);
}

/* The Lua thread whose stack shows where lg is: the caller's own, a Lua
   greenlet's, or for the main greenlet the state's main thread, if it is
   in a call. NULL if there is none to show. */
static lua_State *thread_of(lua_State *L, const lgreen *lg) {
  lua_State *T;
  lua_Debug ar;
  if (!lg->started || lg->done) return NULL;
  if (lg->g == green_current()) return L;
  if (lg->thread.T != NULL) return lg->thread.T;
  if (lg->g != green_hub_main(green_hub_current())) return NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  T = lua_tothread(L, -1);
  lua_pop(L, 1);                          /* the registry keeps it */
  return lua_getstack(T, 0, &ar) ? T : NULL;
}

/* Append one greenlet's entry to the table at `out`. */
static void describe(lua_State *L, int out, lgreen *lg, int ud) {
  lua_State *T = thread_of(L, lg);
  luaL_tolstring(L, ud, NULL);
  push_tree_path(L, ud);
  lua_pushfstring(L, "%s\n  spawn tree: %s\n", lua_tostring(L, -2),
                  lua_tostring(L, -1));
  lua_rawseti(L, out, (lua_Integer)lua_rawlen(L, out) + 1);
  lua_pop(L, 2);
  lua_getfield(L, ud, "spawned_at");
  if (lua_isstring(L, -1)) {
    luaL_gsub(L, lua_tostring(L, -1), "\n", "\n    ");
    lua_pushfstring(L, "  spawned at:\n    %s\n", lua_tostring(L, -1));
    lua_rawseti(L, out, (lua_Integer)lua_rawlen(L, out) + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (T != NULL) {
    luaL_traceback(L, T, NULL, 0);
    luaL_gsub(L, lua_tostring(L, -1), "\n", "\n  ");
    lua_pushfstring(L, "  %s\n", lua_tostring(L, -1));
    lua_rawseti(L, out, (lua_Integer)lua_rawlen(L, out) + 1);
    lua_pop(L, 2);
  }
}

typedef struct {
  lua_State *L;
  int out;
} run_info_ctx;

static int describe_one(green_t *g, void *arg) {
  run_info_ctx *ctx = arg;
  lua_State *L = ctx->L;
  lgreen *lg;
  luaL_checkstack(L, 12, NULL);
  lg = lgreen_push_known(L, g);
  if (lg == NULL) {             /* a C greenlet, or another state's */
    lua_pushfstring(L, "%s #%I%s%s\n",
                    green_binding_data(g) ? "Greenlet of another Lua state"
                                          : "C greenlet",
                    (lua_Integer)green_id(g), green_name(g) ? " " : "",
                    green_name(g) ? green_name(g) : "");
    lua_rawseti(L, ctx->out, (lua_Integer)lua_rawlen(L, ctx->out) + 1);
    return 0;
  }
  describe(L, ctx->out, lg, lua_gettop(L));
  lua_pop(L, 1);
  return 0;
}

/* run_info(): every live greenlet, the main one first: name, state, place
   in the spawn tree, where it was spawned, and its Lua traceback. */
static int l_run_info(lua_State *L) {
  run_info_ctx ctx;
  lgreen *main_lg;
  lua_newtable(L);
  ctx.L = L;
  ctx.out = lua_gettop(L);
  main_lg = lgreen_push_greenlet(L, green_hub_main(green_hub_current()));
  describe(L, ctx.out, main_lg, lua_gettop(L));
  lua_pop(L, 1);
  green_hub_foreach(green_hub_current(), describe_one, &ctx);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "concat");
  lua_pushvalue(L, ctx.out);
  lua_call(L, 1, 1);
  return 1;
}


void lgreen_open_spawntree(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"get_spawntree_local", l_get_spawntree_local},
    {"set_spawntree_local", l_set_spawntree_local},
    {"run_info", l_run_info},
    {NULL, NULL}
  };
  luaL_setfuncs(L, functions, 0);
}
