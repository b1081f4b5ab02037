/*
** class.c: classes of userdata made and checked in one place, the way
** LuaSocket's auxiliar.c does, so that every "(tcp{client} expected)"
** comes from here. A class is a metatable named by its class name
** ("tcp{client}"). Its __index is a table of the methods with a `class`
** field naming it: LuaSec and copas look inside that table, so it must be
** a table, not a function. A group ("tcp{any}") is a field set to true in
** the metatable of each class in it.
**
** The metatables are kept in a table of their own, not under their names
** in the registry, where LuaSocket keeps its classes of the same names: a
** process may load both.
*/

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lsocket.h"

static const char classes_key = 'c';  /* registry: class name -> metatable */
static const char name_key = 'n';     /* a class's metatable: its name */

/* Push the metatable of classname, or nil. */
static int push_class(lua_State *L, const char *classname) {
  int type;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &classes_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &classes_key);
  }
  type = lua_getfield(L, -1, classname);
  lua_remove(L, -2);
  return type;
}

/* Make the class, or add to it: methods whose names start with "__" go
   into the metatable itself, the others into its __index table; each is a
   closure with `shared` as its upvalue, which methods serving several
   classes read to know which they serve. */
void lgreen_class_new(lua_State *L, const char *classname,
                      const luaL_Reg *methods, const void *shared) {
  if (push_class(L, classname) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushstring(L, classname);
    lua_setfield(L, -2, "__name");
    lua_pushstring(L, classname);
    lua_rawsetp(L, -2, &name_key);
    lua_newtable(L);
    lua_pushstring(L, classname);
    lua_setfield(L, -2, "class");
    lua_setfield(L, -2, "__index");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &classes_key);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, classname);
    lua_pop(L, 1);
  }
  lua_getfield(L, -1, "__index");
  for (; methods->name != NULL; methods++) {
    lua_pushlightuserdata(L, (void *)(uintptr_t)shared);
    lua_pushcclosure(L, methods->func, 1);
    lua_setfield(L, strncmp(methods->name, "__", 2) == 0 ? -3 : -2,
                 methods->name);
  }
  lua_pop(L, 2);
}

void lgreen_class_group(lua_State *L, const char *classname,
                        const char *group) {
  push_class(L, classname);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, group);
  lua_pop(L, 1);
}

/* Give the userdata at index the class: a socket changes class as it
   connects or listens. */
void lgreen_class_set(lua_State *L, const char *classname, int index) {
  index = lua_absindex(L, index);
  push_class(L, classname);
  lua_setmetatable(L, index);
}

/* The class name of the value at index, if it has one of these classes;
   else NULL. */
const char *lgreen_class_name(lua_State *L, int index) {
  const char *name;
  if (!lua_getmetatable(L, index)) return NULL;
  lua_rawgetp(L, -1, &name_key);
  name = lua_tostring(L, -1);
  lua_pop(L, 2);                /* the metatable keeps the string alive */
  return name;
}

static void expected(lua_State *L, const char *what, int index) {
  char msg[64];
  snprintf(msg, sizeof msg, "%.40s expected", what);
  luaL_argerror(L, index, msg);
}

void *lgreen_class_check(lua_State *L, const char *classname, int index) {
  const char *name = lgreen_class_name(L, index);
  if (name == NULL || strcmp(name, classname) != 0)
    expected(L, classname, index);
  return lua_touserdata(L, index);
}

void *lgreen_class_test_group(lua_State *L, const char *group, int index) {
  int member;
  if (lgreen_class_name(L, index) == NULL) return NULL;
  lua_getmetatable(L, index);
  lua_getfield(L, -1, group);
  member = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return member ? lua_touserdata(L, index) : NULL;
}

void *lgreen_class_check_group(lua_State *L, const char *group, int index) {
  void *data = lgreen_class_test_group(L, group, index);
  if (data == NULL) expected(L, group, index);
  return data;
}

/* __tostring: "tcp{client}: 0x55d0c8e0a2b8", as LuaSocket prints. */
int lgreen_class_tostring(lua_State *L) {
  const char *name = lgreen_class_name(L, 1);
  lua_pushfstring(L, "%s: %p", name != NULL ? name : "?",
                  lua_touserdata(L, 1));
  return 1;
}
