/*
** socket.c: what every socket of green.socket has (its descriptor,
** timeouts, statistics, waiting, closing, error strings), and the module
** green.socket.core, with the functions of LuaSocket's socket.core.
*/

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "green_lua.h"
#include "lsocket.h"

lsocket *lsocket_new(lua_State *L, const char *classname, int fd,
                     int family, int type) {
  lsocket *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->fd = fd;
  s->family = family;
  s->type = type;
  s->block = s->total = -1;
  s->birthday = green_now();
  lgreen_class_set(L, classname, -1);
  return s;
}

/* Make the descriptor of a socket created without one. IPv6 sockets are
   IPv6 only, as LuaSocket makes them. Returns 0 or an errno. */
int lsocket_open_fd(lsocket *s, int family) {
  int fd = socket(family, s->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), yes = 1;
  if (fd < 0) return errno;
  if (family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
  s->fd = fd;
  s->family = family;
  return 0;
}

/* Close the descriptor. Greenlets waiting on it wake first (their calls
   then say "closed"), so libev never watches a closed descriptor. */
void lsocket_close_fd(lsocket *s) {
  if (s->fd < 0) return;
  if (green_hub_current() != NULL) green_cancel_fd(s->fd);
  close(s->fd);
  s->fd = -1;
}

static void free_buffer(lsocket *s) {
  free(s->in.data);
  memset(&s->in, 0, sizeof s->in);
}

/* The kind of socket a method serves: its upvalue. */
const lsocket_kind *lsocket_kind_of(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

lsocket *lsocket_check(lua_State *L, const char *classname) {
  return lgreen_class_check(L, classname, 1);
}

lsocket *lsocket_check_any(lua_State *L) {
  return lgreen_class_check_group(L, lsocket_kind_of(L)->any, 1);
}

static int l_gc(lua_State *L) {
  lsocket *s = lua_touserdata(L, 1);
  lsocket_close_fd(s);
  free_buffer(s);
  return 0;
}

/* close(): what was received stays receivable, as in LuaSocket. */
static int l_close(lua_State *L) {
  lsocket_close_fd(lsocket_check_any(L));
  lua_pushnumber(L, 1);
  return 1;
}

static int l_getfd(lua_State *L) {
  lua_pushnumber(L, lsocket_check_any(L)->fd);
  return 1;
}

/* setfd(fd): LuaSec takes the descriptor with setfd(-1); the socket then
   no longer owns it. */
static int l_setfd(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  lua_Number fd = luaL_checknumber(L, 2);
  luaL_argcheck(L, fd >= -1 && fd <= 0x7fffffff, 2, "descriptor out of range");
  s->fd = (int)fd;
  return 0;
}

static int l_dirty(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  lua_pushboolean(L, s->in.first < s->in.last);
  return 1;
}

static int l_getstats(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  lua_pushnumber(L, s->received);
  lua_pushnumber(L, s->sent);
  lua_pushnumber(L, green_now() - s->birthday);
  return 3;
}

static int l_setstats(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  s->received = luaL_optnumber(L, 2, s->received);
  s->sent = luaL_optnumber(L, 3, s->sent);
  if (!lua_isnoneornil(L, 4)) s->birthday = green_now() - lua_tonumber(L, 4);
  lua_pushnumber(L, 1);
  return 1;
}


/* ---------------------------------------------------------------- timeouts */

/* settimeout(value [, mode]): mode "b" (the default) sets the limit of
   each wait, "t" or "r" the limit of the call; nil or negative: none. */
static int l_settimeout(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  double t = luaL_optnumber(L, 2, -1);
  const char *mode = luaL_optstring(L, 3, "b");
  if (t != t) t = -1;
  switch (*mode) {
    case 'b': s->block = t; break;
    case 'r': case 't': s->total = t; break;
    default: luaL_argcheck(L, 0, 3, "invalid timeout mode");
  }
  lua_pushnumber(L, 1);
  return 1;
}

static int l_gettimeout(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  lua_pushnumber(L, s->block);
  lua_pushnumber(L, s->total);
  return 2;
}

/* The clock starts at the call's first wait: what a call does before it
   has to wait takes no time worth counting, and most calls never wait. */
void lsocket_timeout_start(const lsocket *s, lsocket_timeout *tm) {
  tm->block = s->block;
  tm->total = s->total;
  tm->start = -1;
}

/* How long the next wait may take: negative for no limit. */
static double time_left(lsocket_timeout *tm) {
  double elapsed, left;
  if (tm->block < 0 && tm->total < 0) return -1;
  if (tm->start < 0) tm->start = green_now();
  elapsed = green_now() - tm->start;
  if (tm->total < 0) return fmax(tm->block - elapsed, 0);
  left = fmax(tm->total - elapsed, 0);
  return tm->block < 0 ? left : fmin(tm->block, left);
}


/* ---------------------------------------------------------------- waiting */

/* Take the socket's receiving side (GREEN_READABLE) or sending side
   (GREEN_WRITABLE) for the calling greenlet: one may receive while
   another sends, but two may not receive (or send) at once. */
void lsocket_enter(lua_State *L, lsocket *s, int events, const char *what) {
  green_t **side = (events & GREEN_READABLE) ? &s->reader : &s->writer;
  green_t *self = green_current();
  if (*side != NULL)
    luaL_error(L, "%s: another greenlet is already %s on this socket", what,
               (events & GREEN_READABLE) ? "receiving" : "sending");
  *side = self != NULL ? self : (green_t *)s;  /* no hub: taken all the same */
}

void lsocket_leave(lsocket *s, int events) {
  if (events & GREEN_READABLE) s->reader = NULL;
  else s->writer = NULL;
}

/*
** Wait until the socket is ready for events, within the time left: DONE,
** TIMEOUT, CLOSED (closed meanwhile by another greenlet) or an errno. A
** kill or a green.Timeout raises, after leaving the side taken: the
** caller keeps nothing that a raise would lose.
*/
int lsocket_wait(lua_State *L, lsocket *s, int events, lsocket_timeout *tm,
                 const char *what) {
  double left = time_left(tm);
  int rc;
  if (left == 0) return LSOCKET_TIMEOUT;
  if (lgreen_on_worker || lua_gc(L, LUA_GCCOUNT, 0) < 0 ||
      green_hub_current() == NULL) {
    lsocket_leave(s, events);
    lgreen_refuse_block(L, what);
  }
  rc = green_wait_fd(s->fd, events, left < 0 ? GREEN_FOREVER : left);
  if (rc > 0) return LSOCKET_DONE;
  if (rc == GREEN_ETIMEDOUT) return LSOCKET_TIMEOUT;
  if (rc == GREEN_EBADF) return s->fd < 0 ? LSOCKET_CLOSED : EBADF;
  lsocket_leave(s, events);
  lgreen_check_result(L, rc, what);
  return -rc;
}


/* ---------------------------------------------------------------- errors */

/* LuaSocket's words for what went wrong (its socket_strerror). */
const char *lsocket_strerror(int err) {
  switch (err) {
    case LSOCKET_DONE: return NULL;
    case LSOCKET_TIMEOUT: return "timeout";
    case LSOCKET_CLOSED: return "closed";
    case EADDRINUSE: return "address already in use";
    case EISCONN: return "already connected";
    case EACCES: return "permission denied";
    case ECONNREFUSED: return "connection refused";
    case ECONNABORTED: case ECONNRESET: case EPIPE: return "closed";
    case ETIMEDOUT: return "timeout";
    default: return strerror(err);
  }
}

int lsocket_push_error(lua_State *L, int err) {
  lua_pushnil(L);
  lua_pushstring(L, lsocket_strerror(err));
  return 2;
}

static const luaL_Reg lsocket_common[] = {
  {"close", l_close},
  {"dirty", l_dirty},
  {"getfd", l_getfd},
  {"setfd", l_setfd},
  {"settimeout", l_settimeout},
  {"__gc", l_gc},
  {"__tostring", lgreen_class_tostring},
  {NULL, NULL}
};


static const luaL_Reg lsocket_stats[] = {
  {"getstats", l_getstats},
  {"setstats", l_setstats},
  {NULL, NULL}
};

static const luaL_Reg lsocket_gettimeout[] = {
  {"gettimeout", l_gettimeout},
  {NULL, NULL}
};


int lsocket_push_one(lua_State *L) {
  lua_pushnumber(L, 1);
  return 1;
}

/* Make the classes of a kind: what every socket has, what its type and
   family have (stream sockets count bytes; LuaSocket's Unix stream
   sockets lack gettimeout), then its own methods. */
void lsocket_new_kind(lua_State *L, const lsocket_kind *kind,
                      const luaL_Reg *methods) {
  const char *classes[3];
  int i, n = 0;
  classes[n++] = kind->master;
  classes[n++] = kind->client;
  if (kind->server != NULL) classes[n++] = kind->server;
  for (i = 0; i < n; i++) {
    lgreen_class_new(L, classes[i], lsocket_common, kind);
    if (kind->type == SOCK_STREAM)
      lgreen_class_new(L, classes[i], lsocket_stats, kind);
    if (kind->family != AF_UNIX || kind->type != SOCK_STREAM)
      lgreen_class_new(L, classes[i], lsocket_gettimeout, kind);
    lgreen_class_new(L, classes[i], methods, kind);
    lgreen_class_group(L, classes[i], kind->any);
  }
}


/* ---------------------------------------------------------------- module */

static int l_gettime(lua_State *L) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  lua_pushnumber(L, (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
  return 1;
}

/* sleep(seconds): this greenlet only. */
static int l_sleep(lua_State *L) {
  double n = luaL_checknumber(L, 1);
  if (!(n > 0)) n = 0;
  lgreen_check_can_block(L, "sleep");
  lgreen_check_result(L, green_sleep(n), "sleep");
  return 0;
}

/* skip(d, ...): what follows the first d arguments after d. */
static int l_skip(lua_State *L) {
  lua_Integer d = luaL_checkinteger(L, 1);
  int n = lua_gettop(L) - 1;
  if (d < 0) d = 0;
  return d >= n ? 0 : n - (int)d;
}

static int l_select(lua_State *L) {
  return lsocket_select(L);
}

__attribute__((visibility("default")))
int luaopen_green_socket_core(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"gettime", l_gettime},
    {"sleep", l_sleep},
    {"skip", l_skip},
    {"select", l_select},
    {NULL, NULL}
  };
  lua_newtable(L);
  luaL_setfuncs(L, functions, 0);
  lsocket_open_stream(L);
  lsocket_open_datagram(L);
  lsocket_open_dns(L);
  lua_pushliteral(L, "LuaSocket 3.0.0");
  lua_setfield(L, -2, "_VERSION");
  lua_pushinteger(L, FD_SETSIZE);
  lua_setfield(L, -2, "_SETSIZE");
  lua_pushinteger(L, -1);
  lua_setfield(L, -2, "_SOCKETINVALID");
  lua_pushinteger(L, 8192);
  lua_setfield(L, -2, "_DATAGRAMSIZE");
  return 1;
}
