/*
** codec.c: Lua values as bytes, to carry them from one lua_State to another
** (a worker thread's, for cpu_bound) and back.
**
** What crosses: nil, booleans, integers and floats (kept apart), strings
** (any bytes), tables with their metatables (shared and cyclic references
** stay shared and cyclic), Lua functions (as bytecode, with copies of
** their upvalues, except that _ENV becomes the receiver's globals), the
** sender's global table (which becomes the receiver's), and C functions
** that a module in package.loaded exports (they travel as "module.field"
** and are required again on arrival). Anything else is refused with an
** error naming where it was found:
** "argument 2, field 'conn': cannot send a userdata to a worker thread".
**
** The decoder trusts nothing it reads: a short or malformed message raises
** "corrupt message", never reads past the end, and nesting is bounded on
** both sides. Only a trusted decode (of a message this process encoded)
** loads bytecode or requires modules; an untrusted one, what a fuzzer
** drives, refuses both.
**
** Message: 'G', version, varint count, then each value:
**   tag [payload]; tables and functions get the next id when first seen,
**   and a later sight is a REF to that id.
**
** A Lua function with no upvalue but _ENV travels as T_SHARED: a number
** unique in the process, given when it is first dumped, then its bytecode.
** A receiver loads each such number once and finds it again by that
** number, without hashing or even copying the bytecode: the function that
** cpu_bound sends at every call costs a table lookup on the worker.
*/

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lgreen.h"

#define CODEC_MAGIC 'G'
#define CODEC_VERSION 2
#define CODEC_MAX_DEPTH 200
#define CODEC_MAX_PATH 32

enum {
  T_NIL, T_FALSE, T_TRUE, T_INT, T_FLOAT, T_STRING,
  T_TABLE,          /* pairs..., T_END, then T_NIL or the metatable */
  T_END,
  T_REF,            /* varint id */
  T_LFUNC,          /* bytecode string, varint upvalue count, upvalues */
  T_CFUNC,          /* module string, field string */
  T_GLOBALS,        /* the sender's global table: the receiver's */
  T_SHARED          /* varint number, bytecode string */
};


/* ---------------------------------------------------------------- buffer */

void lgreen_buffer_init(lua_State *L, lgreen_buffer *b) {
  b->cap = 256;
  b->len = 0;
  b->data = lua_newuserdatauv(L, b->cap, 0);
  b->box = lua_gettop(L);
}

static void put(lua_State *L, lgreen_buffer *b, const void *data, size_t n) {
  if (b->cap - b->len < n) {
    size_t cap = b->cap;
    char *grown;
    while (cap - b->len < n) cap *= 2;
    grown = lua_newuserdatauv(L, cap, 0);
    memcpy(grown, b->data, b->len);
    lua_replace(L, b->box);
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
}

static void put_byte(lua_State *L, lgreen_buffer *b, int byte) {
  unsigned char c = (unsigned char)byte;
  put(L, b, &c, 1);
}

static void put_varint(lua_State *L, lgreen_buffer *b, size_t n) {
  unsigned char bytes[10];
  int i = 0;
  do {
    bytes[i++] = (unsigned char)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n != 0);
  put(L, b, bytes, (size_t)i);
}

static void put_string(lua_State *L, lgreen_buffer *b, const char *s, size_t n) {
  put_varint(L, b, n);
  put(L, b, s, n);
}


/* ---------------------------------------------------------------- encoding */

typedef struct {
  lua_State *L;
  lgreen_buffer *b;
  int memo;                   /* stack index: object -> id */
  int next_id;
  int level;                  /* of recursion, bounded */
  int depth;                  /* of tables, for the path */
  const char *what;           /* "argument", "result" */
  int position;               /* of the value; 0 is "the function" */
  int path[CODEC_MAX_PATH];   /* stack indices of the keys leading here */
  char upvalue[CODEC_MAX_PATH];   /* that key names an upvalue */
} encoder;

static void encode(encoder *e, int index);

/* A table key as a step of a path: "name" first, ".name" after, "[3]". */
static void push_key_step(lua_State *L, int key, int first) {
  if (lua_type(L, key) == LUA_TSTRING)
    lua_pushfstring(L, first ? "%s" : ".%s", lua_tostring(L, key));
  else if (lua_isinteger(L, key))
    lua_pushfstring(L, "[%I]", lua_tointeger(L, key));
  else
    lua_pushfstring(L, "[%s key]", luaL_typename(L, key));
}

/* "argument 2, field 'conn.peers[3]'", "the function, upvalue 'db'":
   where the value being encoded is. */
static void push_where(encoder *e) {
  lua_State *L = e->L;
  luaL_Buffer b;
  int i, n = e->depth < CODEC_MAX_PATH ? e->depth : CODEC_MAX_PATH, open = 0;
  luaL_buffinit(L, &b);
  if (e->position > 0) lua_pushfstring(L, "%s %d", e->what, e->position);
  else lua_pushliteral(L, "the function");
  luaL_addvalue(&b);
  for (i = 0; i < n; i++) {
    if (e->upvalue[i]) {
      if (open) luaL_addchar(&b, '\'');
      open = 0;
      lua_pushfstring(L, ", upvalue '%s'", lua_tostring(L, e->path[i]));
    } else {
      if (!open) luaL_addstring(&b, ", field '");
      push_key_step(L, e->path[i], !open);
      open = 1;
    }
    luaL_addvalue(&b);
  }
  if (e->depth > n) luaL_addstring(&b, "...");
  if (open) luaL_addchar(&b, '\'');
  luaL_pushresult(&b);
}

static int refuse(encoder *e, const char *why) {
  push_where(e);
  return luaL_error(e->L, "%s: %s", lua_tostring(e->L, -1), why);
}

/* Arguments go to a worker thread; results and errors come back. */
static const char *direction(const encoder *e) {
  return strcmp(e->what, "argument") == 0 ? "to a worker thread"
                                          : "back from a worker thread";
}

static int refuse_type(encoder *e, int index) {
  int type = lua_type(e->L, index);
  push_where(e);
  return luaL_error(e->L, "%s: cannot send a %s %s", lua_tostring(e->L, -1),
                    type == LUA_TTHREAD ? "coroutine" : lua_typename(e->L, type),
                    direction(e));
}

/* Seen before: write a REF and return 1; else give it the next id. */
static int remembered(encoder *e, int index) {
  lua_State *L = e->L;
  lua_pushvalue(L, index);
  if (lua_rawget(L, e->memo) == LUA_TNUMBER) {
    put_byte(L, e->b, T_REF);
    put_varint(L, e->b, (size_t)lua_tointeger(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, index);
  lua_pushinteger(L, e->next_id++);
  lua_rawset(L, e->memo);
  return 0;
}

static void encode_table(encoder *e, int index) {
  lua_State *L = e->L;
  put_byte(L, e->b, T_TABLE);
  lua_pushnil(L);
  while (lua_next(L, index)) {
    int key = lua_gettop(L) - 1;
    if (e->depth < CODEC_MAX_PATH) {
      e->path[e->depth] = key;
      e->upvalue[e->depth] = 0;
    }
    e->depth++;
    encode(e, key);
    encode(e, key + 1);
    e->depth--;
    lua_pop(L, 1);
  }
  put_byte(L, e->b, T_END);
  if (lua_getmetatable(L, index)) {
    encode(e, lua_gettop(L));
    lua_pop(L, 1);
  } else {
    put_byte(L, e->b, T_NIL);
  }
}

static int write_chunk(lua_State *L, const void *p, size_t n, void *ud) {
  put(L, ud, p, n);
  return 0;
}

/* Whether the Lua function at index has no upvalue but _ENV, which the
   receiver's load sets to its globals: then nothing of it differs between
   two arrivals, and it can be shared. */
static int is_shareable(lua_State *L, int index) {
  const char *name = lua_getupvalue(L, index, 1);
  if (name == NULL) return 1;
  lua_pop(L, 1);
  if (strcmp(name, "_ENV") != 0) return 0;
  if (lua_getupvalue(L, index, 2) == NULL) return 1;
  lua_pop(L, 1);
  return 0;
}

/* The numbers of shared functions, unique in the process, so that the
   caches of workers which serve several Lua states never mix two up. */
static atomic_llong last_shared_number;

/* What a sender keeps of each Lua function it has sent, in a weak-keyed
   registry table: {bytecode, shared number or 0}. */
static const char chunks_key = 'd';

static void make_entry(lua_State *L, int index) {
  lgreen_buffer chunk;
  int shareable = is_shareable(L, index);
  lua_createtable(L, 2, 0);
  lgreen_buffer_init(L, &chunk);
  lua_pushvalue(L, index);
  lua_dump(L, write_chunk, &chunk, 0);
  lua_pop(L, 1);
  lua_pushlstring(L, chunk.data, chunk.len);
  lua_rawseti(L, -3, 1);
  lua_pop(L, 1);                        /* the buffer */
  lua_pushinteger(L, shareable ? atomic_fetch_add(&last_shared_number, 1) + 1
                               : 0);
  lua_rawseti(L, -2, 2);
}

/* Push the bytecode of the Lua function at index, dumped once per
   function; return its shared number, or 0 if it cannot be shared. */
static lua_Integer push_chunk(lua_State *L, int index) {
  lua_Integer number;
  lgreen_registry_table(L, &chunks_key, "k");
  lua_pushvalue(L, index);
  if (lua_rawget(L, -2) != LUA_TTABLE) {
    lua_pop(L, 1);
    make_entry(L, index);
    lua_pushvalue(L, index);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
  }
  lua_rawgeti(L, -1, 2);
  number = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, -1, 1);
  lua_replace(L, -3);                   /* over the registry table */
  lua_pop(L, 1);                        /* the entry */
  return number;
}

static int is_globals(lua_State *L, int index) {
  int same;
  lua_pushglobaltable(L);
  same = lua_rawequal(L, index, -1);
  lua_pop(L, 1);
  return same;
}

/* A function that can be shared goes as its number and bytecode, with no
   REF and no upvalues; any other as T_LFUNC (or a REF to it) with copies
   of its upvalues. */
static void encode_lua_function(encoder *e, int index) {
  lua_State *L = e->L;
  const char *chunk_data;
  size_t chunk_len;
  int n, i;
  lua_Integer number = push_chunk(L, index);
  chunk_data = lua_tolstring(L, -1, &chunk_len);
  if (number != 0) {
    put_byte(L, e->b, T_SHARED);
    put_varint(L, e->b, (size_t)number);
  } else if (remembered(e, index)) {
    lua_pop(L, 1);
    return;
  } else {
    put_byte(L, e->b, T_LFUNC);
  }
  put_string(L, e->b, chunk_data, chunk_len);
  lua_pop(L, 1);
  if (number != 0) return;
  for (n = 0; lua_getupvalue(L, index, n + 1) != NULL; n++) lua_pop(L, 1);
  put_varint(L, e->b, (size_t)n);
  for (i = 1; i <= n; i++) {
    const char *name = lua_getupvalue(L, index, i);
    if (strcmp(name, "_ENV") == 0) {
      put_byte(L, e->b, T_GLOBALS);
    } else {
      lua_pushstring(L, name);
      if (e->depth < CODEC_MAX_PATH) {
        e->path[e->depth] = lua_gettop(L);
        e->upvalue[e->depth] = 1;
      }
      e->depth++;
      encode(e, lua_gettop(L) - 1);
      e->depth--;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* Push a table mapping every C function a loaded module exports to
   "module\0field", made once per message and kept in the memo table. */
static const char cfuncs_key = 'c';

static void push_c_functions(encoder *e) {
  lua_State *L = e->L;
  if (lua_rawgetp(L, e->memo, &cfuncs_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, e->memo, &cfuncs_key);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushnil(L);
  while (lua_next(L, -2)) {           /* module name, module */
    if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {       /* field name, value */
        if (lua_iscfunction(L, -1) && lua_type(L, -2) == LUA_TSTRING) {
          lua_pushvalue(L, -1);
          if (lua_rawget(L, -7) == LUA_TNIL) {
            lua_pushvalue(L, -2);
            lua_pushfstring(L, "%s%c%s", lua_tostring(L, -6), 0,
                            lua_tostring(L, -4));
            lua_rawset(L, -9);
          }
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void encode_c_function(encoder *e, int index) {
  lua_State *L = e->L;
  size_t len, module_len;
  const char *name;
  push_c_functions(e);
  lua_pushvalue(L, index);
  if (lua_rawget(L, -2) != LUA_TSTRING) {
    lua_pushfstring(L, "cannot send a C function that no loaded module "
                    "exports %s", direction(e));
    refuse(e, lua_tostring(L, -1));
  }
  name = lua_tolstring(L, -1, &len);
  module_len = strlen(name);
  put_byte(L, e->b, T_CFUNC);
  put_string(L, e->b, name, module_len);
  put_string(L, e->b, name + module_len + 1, len - module_len - 1);
  lua_pop(L, 2);
}

static void encode(encoder *e, int index) {
  lua_State *L = e->L;
  unsigned char bytes[8];
  if (e->level >= CODEC_MAX_DEPTH) refuse(e, "nested too deeply");  /* as decode */
  luaL_checkstack(L, 16, "nested too deeply");
  e->level++;
  switch (lua_type(L, index)) {
    case LUA_TNIL: put_byte(L, e->b, T_NIL); break;
    case LUA_TBOOLEAN:
      put_byte(L, e->b, lua_toboolean(L, index) ? T_TRUE : T_FALSE);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        lua_Integer i = lua_tointeger(L, index);
        put_byte(L, e->b, T_INT);
        memcpy(bytes, &i, 8);
      } else {
        lua_Number n = lua_tonumber(L, index);
        put_byte(L, e->b, T_FLOAT);
        memcpy(bytes, &n, 8);
      }
      put(L, e->b, bytes, 8);
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, index, &len);
      put_byte(L, e->b, T_STRING);
      put_string(L, e->b, s, len);
      break;
    }
    case LUA_TTABLE:
      if (is_globals(L, index)) put_byte(L, e->b, T_GLOBALS);
      else if (!remembered(e, index)) encode_table(e, index);
      break;
    case LUA_TFUNCTION:
      if (lua_iscfunction(L, index)) encode_c_function(e, index);
      else encode_lua_function(e, index);
      break;
    default:
      refuse_type(e, index);
  }
  e->level--;
}

void lgreen_encode(lua_State *L, int first, int n, const char *what,
                   int position, lgreen_buffer *out) {
  encoder e;
  int i, top = lua_gettop(L);
  first = lua_absindex(L, first);
  memset(&e, 0, sizeof e);
  e.L = L;
  e.b = out;
  e.what = what;
  e.next_id = 1;
  put_byte(L, out, CODEC_MAGIC);
  put_byte(L, out, CODEC_VERSION);
  put_varint(L, out, (size_t)n);
  for (i = 0; i < n; i++) {
    int type = lua_type(L, first + i);
    if (e.memo == 0 && (type == LUA_TTABLE || (type == LUA_TFUNCTION &&
        (lua_iscfunction(L, first + i) || !is_shareable(L, first + i))))) {
      lua_newtable(L);                /* only messages with these need it */
      e.memo = lua_gettop(L);
    }
    e.position = position + i;
    encode(&e, first + i);
  }
  lua_settop(L, top);
}


/* ---------------------------------------------------------------- decoding */

typedef struct {
  lua_State *L;
  const unsigned char *p, *end;
  int objects;                /* stack index: id -> object */
  int next_id;
  int depth;
  int trusted;                /* may load bytecode */
} decoder;

static int corrupt(decoder *d) {
  return luaL_error(d->L, "cannot decode a corrupt message");
}

static int get_byte(decoder *d) {
  if (d->p >= d->end) corrupt(d);
  return *d->p++;
}

static size_t get_varint(decoder *d) {
  size_t n = 0;
  int shift = 0, byte;
  do {
    if (shift > 63) corrupt(d);
    byte = get_byte(d);
    n |= (size_t)(byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return n;
}

static const char *get_bytes(decoder *d, size_t n) {
  const char *s = (const char *)d->p;
  if ((size_t)(d->end - d->p) < n) corrupt(d);
  d->p += n;
  return s;
}

static const char *get_string(decoder *d, size_t *len) {
  *len = get_varint(d);
  return get_bytes(d, *len);
}

static void decode(decoder *d);

static void remember(decoder *d) {
  lua_pushvalue(d->L, -1);
  lua_rawseti(d->L, d->objects, d->next_id++);
}

static void decode_table(decoder *d) {
  lua_State *L = d->L;
  lua_newtable(L);
  remember(d);
  for (;;) {
    if (d->p < d->end && *d->p == T_END) {
      d->p++;
      break;
    }
    decode(d);
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER &&
                             lua_tonumber(L, -1) != lua_tonumber(L, -1)))
      corrupt(d);                     /* nil or NaN key */
    decode(d);
    lua_rawset(L, -3);
  }
  decode(d);
  if (lua_istable(L, -1)) lua_setmetatable(L, -2);
  else if (lua_isnil(L, -1)) lua_pop(L, 1);
  else corrupt(d);
}

static void load_chunk(lua_State *L, const char *chunk, size_t len) {
  if (luaL_loadbufferx(L, chunk, len, "=(worker function)", "b") != LUA_OK)
    lua_error(L);
}

/* Shared functions are loaded once per state and kept by their number, a
   bounded number of them: the table starts afresh when full. */
static const char loaded_key = 'l';
#define CODEC_LOADED_MAX 1024

static void decode_shared_function(decoder *d) {
  lua_State *L = d->L;
  size_t number = get_varint(d), len;
  const char *chunk = get_string(d, &len);
  if (!d->trusted) corrupt(d);
  lgreen_registry_table(L, &loaded_key, NULL);
  if (lua_rawgeti(L, -1, (lua_Integer)number) == LUA_TFUNCTION) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  load_chunk(L, chunk, len);            /* _ENV, if it has it, is set */
  lua_getfield(L, -2, "n");
  if (lua_tointeger(L, -1) >= CODEC_LOADED_MAX) {
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &loaded_key);
  } else {
    lua_pushvalue(L, -2);
    lua_rawseti(L, -4, (lua_Integer)number);
    lua_pushinteger(L, lua_tointeger(L, -1) + 1);
    lua_setfield(L, -4, "n");
  }
  lua_pop(L, 1);
  lua_remove(L, -2);
}

static void decode_lua_function(decoder *d) {
  lua_State *L = d->L;
  size_t len, n, i;
  const char *chunk = get_string(d, &len);
  if (!d->trusted) corrupt(d);
  n = get_varint(d);
  load_chunk(L, chunk, len);
  remember(d);
  for (i = 1; i <= n; i++) {
    decode(d);
    if (lua_setupvalue(L, -2, (int)(i & 0xffff)) == NULL) corrupt(d);
  }
}

static void decode_c_function(decoder *d) {
  lua_State *L = d->L;
  size_t module_len, field_len;
  const char *module = get_string(d, &module_len);
  const char *field = get_string(d, &field_len);
  if (!d->trusted) corrupt(d);
  lua_getglobal(L, "require");
  lua_pushlstring(L, module, module_len);
  lua_call(L, 1, 1);
  if (!lua_istable(L, -1)) corrupt(d);
  lua_pushlstring(L, field, field_len);
  if (lua_gettable(L, -2) != LUA_TFUNCTION) corrupt(d);
  lua_remove(L, -2);
}

static void decode(decoder *d) {
  lua_State *L = d->L;
  lua_Integer i;
  lua_Number n;
  size_t len;
  const char *s;
  if (++d->depth > CODEC_MAX_DEPTH) corrupt(d);
  luaL_checkstack(L, 8, "nested too deeply");
  switch (get_byte(d)) {
    case T_NIL: lua_pushnil(L); break;
    case T_FALSE: lua_pushboolean(L, 0); break;
    case T_TRUE: lua_pushboolean(L, 1); break;
    case T_INT:
      memcpy(&i, get_bytes(d, 8), 8);
      lua_pushinteger(L, i);
      break;
    case T_FLOAT:
      memcpy(&n, get_bytes(d, 8), 8);
      lua_pushnumber(L, n);
      break;
    case T_STRING:
      s = get_string(d, &len);
      lua_pushlstring(L, s, len);
      break;
    case T_TABLE: decode_table(d); break;
    case T_REF: {
      size_t id = get_varint(d);
      if (id == 0 || id >= (size_t)d->next_id || d->objects == 0) corrupt(d);
      lua_rawgeti(L, d->objects, (lua_Integer)id);
      break;
    }
    case T_LFUNC: decode_lua_function(d); break;
    case T_SHARED: decode_shared_function(d); break;
    case T_CFUNC: decode_c_function(d); break;
    case T_GLOBALS: lua_pushglobaltable(L); break;
    default: corrupt(d);
  }
  d->depth--;
}

int lgreen_decode(lua_State *L, const char *data, size_t len, int trusted) {
  decoder d;
  size_t count, i;
  memset(&d, 0, sizeof d);
  d.L = L;
  d.p = (const unsigned char *)data;
  d.end = d.p + len;
  d.next_id = 1;
  d.trusted = trusted;
  if (get_byte(&d) != CODEC_MAGIC || get_byte(&d) != CODEC_VERSION)
    corrupt(&d);
  count = get_varint(&d);
  if (count > (size_t)(d.end - d.p)) corrupt(&d);   /* a byte each at least */
  luaL_checkstack(L, (int)count + 1, "too many values");
  for (i = 0; i < count; i++) {
    if (d.objects == 0 && d.p < d.end &&
        (*d.p == T_TABLE || *d.p == T_LFUNC || *d.p == T_REF)) {
      lua_newtable(L);                /* only messages with these need it */
      d.objects = lua_gettop(L);
    }
    decode(&d);
  }
  if (d.p != d.end) corrupt(&d);
  if (d.objects != 0) lua_remove(L, d.objects);
  return (int)count;
}


/* ---------------------------------------------------------------- for specs */

/* _codec_encode(...): the message for the arguments, as a string. */
static int l_encode(lua_State *L) {
  int n = lua_gettop(L);
  lgreen_buffer b;
  lgreen_buffer_init(L, &b);
  lgreen_encode(L, 1, n, "argument", 1, &b);
  lua_pushlstring(L, b.data, b.len);
  return 1;
}

/* _codec_decode(message): its values. Bytecode in it is loaded, as load()
   would load it. */
static int l_decode(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  return lgreen_decode(L, data, len, 1);
}

void lgreen_open_codec(lua_State *L) {
  lua_pushcfunction(L, l_encode);
  lua_setfield(L, -2, "_codec_encode");
  lua_pushcfunction(L, l_decode);
  lua_setfield(L, -2, "_codec_decode");
}
