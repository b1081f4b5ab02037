/*
** sockopt.c: setoption and getoption, with LuaSocket's option names,
** value types and results: 1 or nil, "setsockopt failed"; the value or
** nil, "getsockopt failed"; a Lua error for a name it does not know.
*/

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "lsocket.h"

typedef enum {
  OPT_BOOL, OPT_INT, OPT_LINGER, OPT_ERROR, OPT_IFADDR, OPT_MEMBERSHIP,
  OPT_MEMBERSHIP6
} opt_type;

/* Where an option may be used: streams, datagrams, and which way. */
enum { TCP_SET = 1, TCP_GET = 2, UDP_SET = 4, UDP_GET = 8 };
#define TCP_BOTH (TCP_SET | TCP_GET)
#define UDP_BOTH (UDP_SET | UDP_GET)

typedef struct {
  const char *name;
  int level, optname;
  opt_type type;
  int uses;
} option;

static const option options[] = {
  {"keepalive", SOL_SOCKET, SO_KEEPALIVE, OPT_BOOL, TCP_BOTH},
  {"reuseaddr", SOL_SOCKET, SO_REUSEADDR, OPT_BOOL, TCP_BOTH | UDP_BOTH},
  {"reuseport", SOL_SOCKET, SO_REUSEPORT, OPT_BOOL, TCP_BOTH | UDP_BOTH},
  {"tcp-nodelay", IPPROTO_TCP, TCP_NODELAY, OPT_BOOL, TCP_BOTH},
  {"tcp-keepidle", IPPROTO_TCP, TCP_KEEPIDLE, OPT_INT, TCP_BOTH},
  {"tcp-keepcnt", IPPROTO_TCP, TCP_KEEPCNT, OPT_INT, TCP_BOTH},
  {"tcp-keepintvl", IPPROTO_TCP, TCP_KEEPINTVL, OPT_INT, TCP_BOTH},
  {"tcp-defer-accept", IPPROTO_TCP, TCP_DEFER_ACCEPT, OPT_INT, TCP_SET},
  {"tcp-fastopen", IPPROTO_TCP, TCP_FASTOPEN, OPT_INT, TCP_SET},
  {"tcp-fastopen-connect", IPPROTO_TCP, TCP_FASTOPEN_CONNECT, OPT_INT,
   TCP_SET},
  {"ipv6-v6only", IPPROTO_IPV6, IPV6_V6ONLY, OPT_BOOL,
   TCP_SET | UDP_BOTH},
  {"linger", SOL_SOCKET, SO_LINGER, OPT_LINGER, TCP_BOTH},
  {"recv-buffer-size", SOL_SOCKET, SO_RCVBUF, OPT_INT, TCP_BOTH | UDP_BOTH},
  {"send-buffer-size", SOL_SOCKET, SO_SNDBUF, OPT_INT, TCP_BOTH | UDP_BOTH},
  {"error", SOL_SOCKET, SO_ERROR, OPT_ERROR, TCP_GET | UDP_GET},
  {"dontroute", SOL_SOCKET, SO_DONTROUTE, OPT_BOOL, UDP_BOTH},
  {"broadcast", SOL_SOCKET, SO_BROADCAST, OPT_BOOL, UDP_BOTH},
  {"ip-multicast-if", IPPROTO_IP, IP_MULTICAST_IF, OPT_IFADDR, UDP_BOTH},
  {"ip-multicast-ttl", IPPROTO_IP, IP_MULTICAST_TTL, OPT_INT, UDP_SET},
  {"ip-multicast-loop", IPPROTO_IP, IP_MULTICAST_LOOP, OPT_BOOL, UDP_BOTH},
  {"ip-add-membership", IPPROTO_IP, IP_ADD_MEMBERSHIP, OPT_MEMBERSHIP,
   UDP_SET},
  {"ip-drop-membership", IPPROTO_IP, IP_DROP_MEMBERSHIP, OPT_MEMBERSHIP,
   UDP_SET},
  {"ipv6-unicast-hops", IPPROTO_IPV6, IPV6_UNICAST_HOPS, OPT_INT, UDP_BOTH},
  {"ipv6-multicast-hops", IPPROTO_IPV6, IPV6_MULTICAST_HOPS, OPT_INT,
   UDP_BOTH},
  {"ipv6-multicast-loop", IPPROTO_IPV6, IPV6_MULTICAST_LOOP, OPT_BOOL,
   UDP_BOTH},
  {"ipv6-add-membership", IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, OPT_MEMBERSHIP6,
   UDP_SET},
  {"ipv6-drop-membership", IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP,
   OPT_MEMBERSHIP6, UDP_SET},
  {NULL, 0, 0, OPT_BOOL, 0}
};

static const option *find(lua_State *L, int use) {
  const char *name = luaL_checkstring(L, 2);
  const option *o;
  for (o = options; o->name != NULL; o++)
    if ((o->uses & use) && strcmp(o->name, name) == 0) return o;
  luaL_argerror(L, 2, lua_pushfstring(L, "unsupported option `%s'", name));
  return NULL;
}

static int set(lua_State *L, lsocket *s, const option *o, const void *value,
               socklen_t len) {
  if (setsockopt(s->fd, o->level, o->optname, value, len) < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "setsockopt failed");
    return 2;
  }
  lua_pushnumber(L, 1);
  return 1;
}

static lua_Number field_number(lua_State *L, const char *name,
                               const char *msg) {
  lua_Number n;
  lua_getfield(L, 3, name);
  if (!lua_isnumber(L, -1)) luaL_argerror(L, 3, msg);
  n = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return n;
}

static const char *field_string(lua_State *L, const char *name,
                                const char *msg) {
  const char *s;
  lua_getfield(L, 3, name);
  if (!lua_isstring(L, -1)) luaL_argerror(L, 3, msg);
  s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;          /* the table holds it */
}

static int set_membership(lua_State *L, lsocket *s, const option *o) {
  const char *group, *iface;
  luaL_checktype(L, 3, LUA_TTABLE);
  group = field_string(L, "multiaddr", "string 'multiaddr' field expected");
  if (o->type == OPT_MEMBERSHIP) {
    struct ip_mreq m;
    iface = field_string(L, "interface", "string 'interface' field expected");
    if (inet_pton(AF_INET, group, &m.imr_multiaddr) != 1)
      luaL_argerror(L, 3, "invalid 'multiaddr' ip address");
    if (strcmp(iface, "*") == 0) m.imr_interface.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, iface, &m.imr_interface) != 1)
      luaL_argerror(L, 3, "invalid 'interface' ip address");
    return set(L, s, o, &m, sizeof m);
  } else {
    struct ipv6_mreq m;
    memset(&m, 0, sizeof m);
    if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) != 1)
      luaL_argerror(L, 3, "invalid 'multiaddr' ip address");
    lua_getfield(L, 3, "interface");
    if (!lua_isnil(L, -1)) {
      if (!lua_isnumber(L, -1))
        luaL_argerror(L, 3, "number 'interface' field expected");
      m.ipv6mr_interface = (unsigned)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return set(L, s, o, &m, sizeof m);
  }
}

static int is_datagram(lua_State *L) {
  return lsocket_kind_of(L)->type == SOCK_DGRAM;
}

int lsocket_setoption(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  const option *o = find(L, is_datagram(L) ? UDP_SET : TCP_SET);
  int value;
  switch (o->type) {
    case OPT_BOOL:
      luaL_checktype(L, 3, LUA_TBOOLEAN);
      value = lua_toboolean(L, 3);
      return set(L, s, o, &value, sizeof value);
    case OPT_INT:
      value = (int)luaL_checknumber(L, 3);
      return set(L, s, o, &value, sizeof value);
    case OPT_LINGER: {
      struct linger li;
      luaL_checktype(L, 3, LUA_TTABLE);
      lua_getfield(L, 3, "on");
      if (!lua_isboolean(L, -1))
        luaL_argerror(L, 3, "boolean 'on' field expected");
      li.l_onoff = lua_toboolean(L, -1);
      lua_pop(L, 1);
      li.l_linger = (int)field_number(L, "timeout",
                                      "number 'timeout' field expected");
      return set(L, s, o, &li, sizeof li);
    }
    case OPT_IFADDR: {
      struct in_addr addr;
      const char *ip = luaL_checkstring(L, 3);
      if (strcmp(ip, "*") == 0) addr.s_addr = htonl(INADDR_ANY);
      else if (inet_pton(AF_INET, ip, &addr) != 1)
        luaL_argerror(L, 3, "ip expected");
      return set(L, s, o, &addr, sizeof addr);
    }
    default:
      return set_membership(L, s, o);
  }
}

int lsocket_getoption(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  const option *o = find(L, is_datagram(L) ? UDP_GET : TCP_GET);
  union { int i; struct linger li; struct in_addr addr; } v;
  socklen_t len = sizeof v;
  char ip[INET_ADDRSTRLEN];
  memset(&v, 0, sizeof v);
  if (getsockopt(s->fd, o->level, o->optname, &v, &len) < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "getsockopt failed");
    return 2;
  }
  switch (o->type) {
    case OPT_BOOL: lua_pushboolean(L, v.i != 0); break;
    case OPT_INT: lua_pushnumber(L, v.i); break;
    case OPT_ERROR:
      if (v.i == 0) lua_pushnil(L);
      else lua_pushstring(L, lsocket_strerror(v.i));
      break;
    case OPT_LINGER:
      lua_createtable(L, 0, 2);
      lua_pushboolean(L, v.li.l_onoff != 0);
      lua_setfield(L, -2, "on");
      lua_pushinteger(L, v.li.l_linger);
      lua_setfield(L, -2, "timeout");
      break;
    default:
      inet_ntop(AF_INET, &v.addr, ip, sizeof ip);
      lua_pushstring(L, ip);
  }
  return 1;
}
