/*
** datagram.c: UDP and Unix datagram sockets, with LuaSocket's classes:
** unconnected (sendto, receivefrom) and connected (send; receive from
** the peer only). A datagram is received whole or not at all, so there
** is no buffer to keep: a kill while waiting loses nothing.
*/

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/un.h>

#include "lsocket.h"

static const lsocket_kind udp_kind = {
  "udp{any}", "udp{unconnected}", "udp{connected}", NULL,
  AF_UNSPEC, SOCK_DGRAM
};
static const lsocket_kind unix_kind = {
  "unixdgram{any}", "unixdgram{unconnected}", "unixdgram{connected}", NULL,
  AF_UNIX, SOCK_DGRAM
};

#define KIND (lsocket_kind_of(L))
#define DATAGRAM_SIZE 8192

/* Receive one datagram of at most size bytes into data (from, if not
   NULL, gets the sender): DONE with *got set, or why not. */
static int receive_datagram(lua_State *L, lsocket *s, char *data, size_t size,
                            struct sockaddr_storage *from, socklen_t *len,
                            size_t *got) {
  lsocket_timeout tm;
  int err = LSOCKET_DONE;
  ssize_t n = -1;
  lsocket_timeout_start(s, &tm);
  lsocket_enter(L, s, GREEN_READABLE, "receive");
  while (err == LSOCKET_DONE) {
    if (s->fd < 0) {
      err = LSOCKET_CLOSED;
      break;
    }
    n = recvfrom(s->fd, data, size, 0, (struct sockaddr *)from, len);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    else err = lsocket_wait(L, s, GREEN_READABLE, &tm, "receive");
  }
  lsocket_leave(s, GREEN_READABLE);
  if (err != LSOCKET_DONE) return err;
  s->received += (double)n;
  *got = (size_t)n;
  return LSOCKET_DONE;
}

static size_t check_size(lua_State *L) {
  lua_Number size = luaL_optnumber(L, 2, DATAGRAM_SIZE);
  luaL_argcheck(L, size >= 0 && size <= 0x7fffffff, 2, "invalid receive size");
  return (size_t)size;
}

/* receive([size]): a datagram, or nil, err. */
static int l_receive(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  size_t size = check_size(L);
  luaL_Buffer b;
  char *data = luaL_buffinitsize(L, &b, size > 0 ? size : 1);
  size_t got;
  int err = receive_datagram(L, s, data, size, NULL, NULL, &got);
  if (err != LSOCKET_DONE) return lsocket_push_error(L, err);
  luaL_pushresultsize(&b, got);
  return 1;
}

/* Push the sender of a datagram: address and port, or a path. */
static int push_sender(lua_State *L, const struct sockaddr_storage *from,
                       socklen_t len) {
  if (lsocket_kind_of(L)->family == AF_UNIX) {   /* "" if it has no name */
    lsocket_push_path(L, from, len);
    return 1;
  }
  lsocket_push_address(L, from, len, 0);
  return 2;
}

/* receivefrom([size]): a datagram and its sender, or nil, err. */
static int l_receivefrom(lua_State *L) {
  lsocket *s = lsocket_check(L, KIND->master);
  size_t size = check_size(L);
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  luaL_Buffer b;
  char *data = luaL_buffinitsize(L, &b, size > 0 ? size : 1);
  size_t got;
  int err = receive_datagram(L, s, data, size, &from, &len, &got);
  if (err != LSOCKET_DONE) return lsocket_push_error(L, err);
  luaL_pushresultsize(&b, got);
  return 1 + push_sender(L, &from, len);
}

/* Send one datagram, to addr if not NULL: the count sent, or nil, err. */
static int send_datagram(lua_State *L, lsocket *s, const struct sockaddr *addr,
                         socklen_t addr_len) {
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lsocket_timeout tm;
  int err = LSOCKET_DONE;
  ssize_t n = -1;
  lsocket_timeout_start(s, &tm);
  lsocket_enter(L, s, GREEN_WRITABLE, "send");
  while (err == LSOCKET_DONE) {
    if (s->fd < 0) {
      err = LSOCKET_CLOSED;
      break;
    }
    n = sendto(s->fd, data, len, MSG_NOSIGNAL, addr, addr_len);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    else err = lsocket_wait(L, s, GREEN_WRITABLE, &tm, "send");
  }
  lsocket_leave(s, GREEN_WRITABLE);
  if (err != LSOCKET_DONE) return lsocket_push_error(L, err);
  s->sent += (double)n;
  lua_pushnumber(L, (lua_Number)n);
  return 1;
}

static int l_send(lua_State *L) {
  return send_datagram(L, lsocket_check(L, KIND->client), NULL, 0);
}

/* sendto(data, ip, port), or (data, path): the address must be numeric,
   as LuaSocket's is, so sendto never waits for a name server. */
static int l_sendto(lua_State *L) {
  lsocket *s = lsocket_check(L, KIND->master);
  struct addrinfo hints, *res = NULL;
  int rc, n, err;
  luaL_checkstring(L, 2);
  if (KIND->family == AF_UNIX) {
    struct sockaddr_un addr;
    socklen_t len;
    if (!lsocket_unix_address(L, luaL_checkstring(L, 3), &addr, &len))
      return 2;
    return send_datagram(L, s, (struct sockaddr *)&addr, len);
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = s->family;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST;
  rc = getaddrinfo(luaL_checkstring(L, 3), luaL_checkstring(L, 4), &hints,
                   &res);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gai_strerror(rc));
    return 2;
  }
  if (s->fd < 0 && (err = lsocket_open_fd(s, res->ai_family)) != 0) {
    freeaddrinfo(res);
    return lsocket_push_error(L, err);
  }
  {
    struct sockaddr_storage to;
    socklen_t to_len = res->ai_addrlen;
    memcpy(&to, res->ai_addr, to_len);
    freeaddrinfo(res);        /* before a wait: a kill raises from it */
    n = send_datagram(L, s, (struct sockaddr *)&to, to_len);
  }
  return n;
}

/* setpeername(address, port): connected. setpeername("*"): unconnected
   again. */
static int l_setpeername(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  const char *address = luaL_checkstring(L, 2);
  int n;
  if (KIND->family == AF_UNIX) {
    struct sockaddr_un addr;
    socklen_t len;
    if (!lsocket_unix_address(L, address, &addr, &len)) return 2;
    if (connect(s->fd, (struct sockaddr *)&addr, len) < 0)
      return lsocket_push_error(L, errno);
  } else if (strcmp(address, "*") == 0) {
    struct sockaddr unspec;
    memset(&unspec, 0, sizeof unspec);
    unspec.sa_family = AF_UNSPEC;
    if (s->fd >= 0) (void)connect(s->fd, &unspec, sizeof unspec);
    lgreen_class_set(L, KIND->master, 1);
    return lsocket_push_one(L);
  } else {
    lsocket_timeout tm;
    const char *port = luaL_checkstring(L, 3);
    lsocket_timeout_start(s, &tm);
    if ((n = lsocket_connect(L, s, address, port, &tm)) > 0) return n;
  }
  lgreen_class_set(L, KIND->client, 1);
  return lsocket_push_one(L);
}

static int l_setsockname(lua_State *L) {
  lsocket *s = lsocket_check(L, KIND->master);
  int n;
  if (KIND->family == AF_UNIX) {
    struct sockaddr_un addr;
    socklen_t len;
    if (!lsocket_unix_address(L, luaL_checkstring(L, 2), &addr, &len))
      return 2;
    if (bind(s->fd, (struct sockaddr *)&addr, len) < 0)
      return lsocket_push_error(L, errno);
    return lsocket_push_one(L);
  }
  n = lsocket_bind(L, s, luaL_checkstring(L, 2), luaL_optstring(L, 3, "0"));
  return n > 0 ? n : lsocket_push_one(L);
}

static int l_getpeername(lua_State *L) {
  return lsocket_push_name(L, lsocket_check(L, KIND->client), 1);
}

/* udp(), udp4(), udp6(): unconnected, or nil, err. udp() makes its
   descriptor when the family is known (setsockname, setpeername,
   sendto). */
static int new_udp(lua_State *L, int family) {
  lsocket *s = lsocket_new(L, udp_kind.master, -1, AF_UNSPEC, SOCK_DGRAM);
  int err;
  if (family != AF_UNSPEC && (err = lsocket_open_fd(s, family)) != 0)
    return lsocket_push_error(L, err);
  return 1;
}

static int l_udp(lua_State *L) { return new_udp(L, AF_UNSPEC); }
static int l_udp4(lua_State *L) { return new_udp(L, AF_INET); }
static int l_udp6(lua_State *L) { return new_udp(L, AF_INET6); }

static int l_unix_dgram(lua_State *L) {
  lsocket *s = lsocket_new(L, unix_kind.master, -1, AF_UNIX, SOCK_DGRAM);
  int err = lsocket_open_fd(s, AF_UNIX);
  if (err != 0) return lsocket_push_error(L, err);
  return 1;
}

/* Add udp, udp4, udp6 and unix_dgram to the table on top. */
void lsocket_open_datagram(lua_State *L) {
  static const luaL_Reg udp_methods[] = {
    {"getfamily", lsocket_getfamily}, {"getoption", lsocket_getoption},
    {"getpeername", l_getpeername}, {"getsockname", lsocket_getsockname},
    {"receive", l_receive}, {"receivefrom", l_receivefrom},
    {"send", l_send}, {"sendto", l_sendto}, {"setoption", lsocket_setoption},
    {"setpeername", l_setpeername}, {"setsockname", l_setsockname},
    {NULL, NULL}
  };
  static const luaL_Reg unix_methods[] = {
    {"bind", l_setsockname}, {"connect", l_setpeername},
    {"getsockname", lsocket_getsockname}, {"receive", l_receive},
    {"receivefrom", l_receivefrom}, {"send", l_send}, {"sendto", l_sendto},
    {"setoption", lsocket_setoption}, {"setpeername", l_setpeername},
    {"setsockname", l_setsockname}, {NULL, NULL}
  };
  static const luaL_Reg functions[] = {
    {"udp", l_udp}, {"udp4", l_udp4}, {"udp6", l_udp6},
    {"unix_dgram", l_unix_dgram}, {NULL, NULL}
  };
  lsocket_new_kind(L, &udp_kind, udp_methods);
  lsocket_new_kind(L, &unix_kind, unix_methods);
  luaL_setfuncs(L, functions, 0);
}
