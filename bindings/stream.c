/*
** stream.c: TCP and Unix stream sockets, with LuaSocket's classes: a
** master (made, not yet connected or listening), a client (connected; it
** receives and sends) and a server (listening; it accepts). One set of
** methods serves both kinds; each method's upvalue names the classes of
** its kind.
*/

#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lsocket.h"

static const lsocket_kind tcp_kind = {
  "tcp{any}", "tcp{master}", "tcp{client}", "tcp{server}",
  AF_UNSPEC, SOCK_STREAM
};
static const lsocket_kind unix_kind = {
  "unixstream{any}", "unixstream{master}", "unixstream{client}",
  "unixstream{server}", AF_UNIX, SOCK_STREAM
};

#define KIND (lsocket_kind_of(L))

static int l_receive(lua_State *L) {
  return lsocket_receive(L, lsocket_check(L, KIND->client));
}

static int l_send(lua_State *L) {
  return lsocket_send(L, lsocket_check(L, KIND->client));
}

/* accept(): a client for the next connection, or nil, err. */
static int l_accept(lua_State *L) {
  lsocket *s = lsocket_check(L, KIND->server), *client;
  lsocket_timeout tm;
  int fd = -1, err = LSOCKET_DONE;
  lsocket_timeout_start(s, &tm);
  lsocket_enter(L, s, GREEN_READABLE, "accept");
  while (err == LSOCKET_DONE) {
    if (s->fd < 0) {
      err = LSOCKET_CLOSED;
      break;
    }
    fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) break;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    else err = lsocket_wait(L, s, GREEN_READABLE, &tm, "accept");
  }
  lsocket_leave(s, GREEN_READABLE);
  if (err != LSOCKET_DONE) return lsocket_push_error(L, err);
  client = lsocket_new(L, KIND->client, fd, s->family, SOCK_STREAM);
  (void)client;
  return 1;
}

static int unix_bind(lua_State *L, lsocket *s, const char *path) {
  struct sockaddr_un addr;
  socklen_t len;
  if (!lsocket_unix_address(L, path, &addr, &len)) return 2;
  if (s->fd < 0) return lsocket_push_error(L, LSOCKET_CLOSED);
  if (bind(s->fd, (struct sockaddr *)&addr, len) < 0)
    return lsocket_push_error(L, errno);
  return 0;
}

/* A full backlog makes a Unix connect say EAGAIN: wait and try again. */
static int unix_connect(lua_State *L, lsocket *s, const char *path,
                        lsocket_timeout *tm) {
  struct sockaddr_un addr;
  socklen_t len;
  int err = LSOCKET_DONE;
  if (!lsocket_unix_address(L, path, &addr, &len)) return 2;
  lsocket_enter(L, s, GREEN_WRITABLE, "connect");
  while (err == LSOCKET_DONE) {
    if (s->fd < 0) err = LSOCKET_CLOSED;
    else if (connect(s->fd, (struct sockaddr *)&addr, len) == 0) break;
    else if (errno == EAGAIN || errno == EINPROGRESS)
      err = lsocket_wait(L, s, GREEN_WRITABLE, tm, "connect");
    else if (errno != EINTR) err = errno;
  }
  lsocket_leave(s, GREEN_WRITABLE);
  return err == LSOCKET_DONE ? 0 : lsocket_push_error(L, err);
}

static int l_bind(lua_State *L) {
  lsocket *s = lsocket_check(L, KIND->master);
  int n;
  if (KIND->family == AF_UNIX) n = unix_bind(L, s, luaL_checkstring(L, 2));
  else n = lsocket_bind(L, s, luaL_checkstring(L, 2), luaL_checkstring(L, 3));
  return n > 0 ? n : lsocket_push_one(L);
}

/* connect(address, port): 1 or nil, err. A TCP socket is a client after
   it, whatever the outcome: a connect with timeout 0 is still under way
   (LuaSocket's rule). */
static int l_connect(lua_State *L) {
  lsocket_timeout tm;
  lsocket *s;
  int n;
  if (KIND->family == AF_UNIX) {
    s = lsocket_check(L, KIND->master);
    lsocket_timeout_start(s, &tm);
    n = unix_connect(L, s, luaL_checkstring(L, 2), &tm);
    if (n == 0) lgreen_class_set(L, KIND->client, 1);
    return n > 0 ? n : lsocket_push_one(L);
  }
  s = lsocket_check_any(L);
  {
    const char *host = luaL_checkstring(L, 2), *port = luaL_checkstring(L, 3);
    lsocket_timeout_start(s, &tm);
    n = lsocket_connect(L, s, host, port, &tm);
  }
  lgreen_class_set(L, KIND->client, 1);
  return n > 0 ? n : lsocket_push_one(L);
}

static int l_listen(lua_State *L) {
  lsocket *s = lsocket_check(L, KIND->master);
  lua_Number backlog = luaL_optnumber(L, 2, 32);
  if (listen(s->fd, backlog > 0x7fffffff ? 0x7fffffff : (int)backlog) < 0)
    return lsocket_push_error(L, errno);
  lgreen_class_set(L, KIND->server, 1);
  return lsocket_push_one(L);
}

static int l_shutdown(lua_State *L) {
  static const char *const names[] = {"receive", "send", "both", NULL};
  static const int hows[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
  lsocket *s = lsocket_check(L, KIND->client);
  int how = hows[luaL_checkoption(L, 2, "both", names)];
  if (s->fd >= 0) (void)shutdown(s->fd, how);
  return lsocket_push_one(L);
}

static int l_getpeername(lua_State *L) {
  return lsocket_push_name(L, lsocket_check_any(L), 1);
}

/* tcp(), tcp4(), tcp6(): a master, or nil, err. tcp() makes its
   descriptor when bind or connect learns the family. */
static int new_tcp(lua_State *L, int family) {
  lsocket *s = lsocket_new(L, tcp_kind.master, -1, AF_UNSPEC, SOCK_STREAM);
  int err;
  if (family != AF_UNSPEC && (err = lsocket_open_fd(s, family)) != 0)
    return lsocket_push_error(L, err);
  return 1;
}

static int l_tcp(lua_State *L) { return new_tcp(L, AF_UNSPEC); }
static int l_tcp4(lua_State *L) { return new_tcp(L, AF_INET); }
static int l_tcp6(lua_State *L) { return new_tcp(L, AF_INET6); }

static int l_unix_stream(lua_State *L) {
  lsocket *s = lsocket_new(L, unix_kind.master, -1, AF_UNIX, SOCK_STREAM);
  int err = lsocket_open_fd(s, AF_UNIX);
  if (err != 0) return lsocket_push_error(L, err);
  return 1;
}

/* connect(address, port [, laddress [, lport [, family]]]): a client, or
   nil, err. */
static int l_global_connect(lua_State *L) {
  const char *address = luaL_checkstring(L, 1);
  const char *port = luaL_checkstring(L, 2);
  const char *laddress = luaL_optstring(L, 3, NULL);
  const char *lport = luaL_optstring(L, 4, "0");
  int family = lsocket_family_arg(L, 5), n;
  lsocket_timeout tm;
  lsocket *s = lsocket_new(L, tcp_kind.master, -1, family, SOCK_STREAM);
  if (laddress != NULL && (n = lsocket_bind(L, s, laddress, lport)) > 0) {
    lsocket_close_fd(s);
    return n;
  }
  lsocket_timeout_start(s, &tm);
  if ((n = lsocket_connect(L, s, address, port, &tm)) > 0) {
    lsocket_close_fd(s);
    return n;
  }
  lgreen_class_set(L, tcp_kind.client, -1);
  return 1;
}

/* Add tcp, tcp4, tcp6, connect and unix_stream to the table on top. */
void lsocket_open_stream(lua_State *L) {
  static const luaL_Reg tcp_methods[] = {
    {"accept", l_accept}, {"bind", l_bind}, {"connect", l_connect},
    {"getfamily", lsocket_getfamily}, {"getoption", lsocket_getoption},
    {"getpeername", l_getpeername}, {"getsockname", lsocket_getsockname},
    {"listen", l_listen}, {"receive", l_receive}, {"send", l_send},
    {"setoption", lsocket_setoption}, {"setpeername", l_connect},
    {"setsockname", l_bind}, {"shutdown", l_shutdown}, {NULL, NULL}
  };
  static const luaL_Reg unix_methods[] = {
    {"accept", l_accept}, {"bind", l_bind}, {"connect", l_connect},
    {"getsockname", lsocket_getsockname}, {"listen", l_listen},
    {"receive", l_receive}, {"send", l_send}, {"setoption", lsocket_setoption},
    {"setpeername", l_connect}, {"setsockname", l_bind},
    {"shutdown", l_shutdown}, {NULL, NULL}
  };
  static const luaL_Reg functions[] = {
    {"tcp", l_tcp}, {"tcp4", l_tcp4}, {"tcp6", l_tcp6},
    {"connect", l_global_connect}, {"unix_stream", l_unix_stream},
    {NULL, NULL}
  };
  lsocket_new_kind(L, &tcp_kind, tcp_methods);
  lsocket_new_kind(L, &unix_kind, unix_methods);
  luaL_setfuncs(L, functions, 0);
}
