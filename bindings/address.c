/*
** address.c: names and addresses for green.socket. Every lookup goes
** through green_getaddrinfo or green_getnameinfo, so a slow name server
** stops only the greenlet asking; numeric addresses are answered at once.
** connect and bind try each address found, as LuaSocket's inet.c does,
** and socket.dns gives LuaSocket's results and error strings.
*/

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lsocket.h"

/* LuaSocket's words for a failed lookup (its socket_gaistrerror). */
const char *lsocket_gaistrerror(int rc, int gai) {
  if (rc == GREEN_ETIMEDOUT) return "timeout";
  if (rc == GREEN_ENOMEM) return "memory allocation failure";
  switch (gai) {
    case EAI_AGAIN: return "temporary failure in name resolution";
    case EAI_BADFLAGS: return "invalid value for ai_flags";
    case EAI_FAIL: return "non-recoverable failure in name resolution";
    case EAI_FAMILY: return "ai_family not supported";
    case EAI_MEMORY: return "memory allocation failure";
    case EAI_NONAME: return "host or service not provided, or not known";
    case EAI_OVERFLOW: return "argument buffer overflow";
    case EAI_SERVICE: return "service not supported for socket type";
    case EAI_SOCKTYPE: return "ai_socktype not supported";
    case EAI_SYSTEM: return strerror(errno);
    default: return gai_strerror(gai);
  }
}

/* Look host and service up: NULL and *res, or an error string. A kill
   raises (the lookup frees itself), after `holding` (if not NULL) lets go
   of its sending side. */
static const char *lookup_for(lua_State *L, lsocket *holding,
                              const char *host, const char *service,
                              const struct addrinfo *hints, double timeout,
                              struct addrinfo **res) {
  int gai = 0, rc = GREEN_ESRCH;
  if (!lgreen_on_worker && lua_gc(L, LUA_GCCOUNT, 0) >= 0)
    rc = green_getaddrinfo(host, service, hints, res, timeout, &gai);
  if (rc == 0) return NULL;
  if (rc != GREEN_ENODATA && rc != GREEN_ETIMEDOUT && rc != GREEN_ENOMEM) {
    if (holding != NULL) lsocket_leave(holding, GREEN_WRITABLE);
    lgreen_check_can_block(L, "name lookup");
    lgreen_check_result(L, rc, "name lookup");
  }
  return lsocket_gaistrerror(rc, gai);
}

static const char *lookup(lua_State *L, const char *host, const char *service,
                          const struct addrinfo *hints, double timeout,
                          struct addrinfo **res) {
  return lookup_for(L, NULL, host, service, hints, timeout, res);
}

static void stream_hints(struct addrinfo *hints, int family, int socktype,
                         int flags) {
  memset(hints, 0, sizeof *hints);
  hints->ai_family = family;
  hints->ai_socktype = socktype;
  hints->ai_flags = flags;
}

/* Connect (non-blocking) and wait for the outcome within the time left:
   DONE, TIMEOUT or an errno. */
static int connect_addr(lua_State *L, lsocket *s, const struct addrinfo *ai,
                        lsocket_timeout *tm) {
  int err = 0, rc;
  socklen_t len = sizeof err;
  do rc = connect(s->fd, ai->ai_addr, ai->ai_addrlen);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) return LSOCKET_DONE;
  if (errno != EINPROGRESS && errno != EAGAIN) return errno;
  if ((rc = lsocket_wait(L, s, GREEN_WRITABLE, tm, "connect")) != 0)
    return rc;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

/* The lookup of a connect takes the time of the call's first wait. */
static double lookup_time(const lsocket_timeout *tm) {
  if (tm->block < 0 && tm->total < 0) return GREEN_FOREVER;
  if (tm->block < 0) return tm->total;
  return tm->total < 0 || tm->block < tm->total ? tm->block : tm->total;
}

static void release(struct addrinfo **res) {
  if (*res != NULL) freeaddrinfo(*res);
  *res = NULL;
}

static int free_anchored(lua_State *L) {
  release(lua_touserdata(L, 1));
  return 0;
}

/* A slot for a lookup's answer that the collector frees if a kill raises
   while it is held: pushed on the stack. */
static struct addrinfo **anchored_answer(lua_State *L) {
  static const char key = 'a';
  struct addrinfo **res = lua_newuserdatauv(L, sizeof *res, 0);
  *res = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, free_anchored);
    lua_setfield(L, -2, "__gc");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key);
  }
  lua_setmetatable(L, -2);
  return res;
}

/* Connect s to host and service, trying each address found in turn
   (only the first when the timeout is 0); a socket made by socket.tcp()
   gets the family of the address. Returns 0 or pushes nil, err. The
   answer is anchored while connects wait, as a kill raises from them. */
int lsocket_connect(lua_State *L, lsocket *s, const char *host,
                    const char *service, lsocket_timeout *tm) {
  struct addrinfo hints, **res = anchored_answer(L), *ai;
  const char *why;
  int err = LSOCKET_CLOSED;
  stream_hints(&hints, s->family, s->type, 0);
  lsocket_enter(L, s, GREEN_WRITABLE, "connect");
  why = lookup_for(L, s, host, service, &hints, lookup_time(tm), res);
  if (why != NULL) {
    lsocket_leave(s, GREEN_WRITABLE);
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  for (ai = *res; ai != NULL; ai = ai->ai_next) {
    tm->start = -1;             /* each address has the whole time */
    if (s->fd < 0 || s->family != ai->ai_family) {
      lsocket_close_fd(s);
      if ((err = lsocket_open_fd(s, ai->ai_family)) != 0) continue;
    }
    err = connect_addr(L, s, ai, tm);
    if (err == LSOCKET_DONE || (tm->block == 0 || tm->total == 0)) break;
  }
  lsocket_leave(s, GREEN_WRITABLE);
  release(res);
  lua_pop(L, 1);                /* the slot */
  return err == LSOCKET_DONE ? 0 : lsocket_push_error(L, err);
}

/* Bind s to host ("*" for any) and service, as lsocket_connect. */
int lsocket_bind(lua_State *L, lsocket *s, const char *host,
                 const char *service) {
  struct addrinfo hints, *res = NULL, *ai;
  const char *why;
  int err = LSOCKET_CLOSED;
  if (strcmp(host, "*") == 0) host = NULL;
  stream_hints(&hints, s->family, s->type, AI_PASSIVE);
  why = lookup(L, host, service != NULL ? service : "0", &hints,
               GREEN_FOREVER, &res);
  if (why != NULL) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (s->fd < 0 || s->family != ai->ai_family) {
      lsocket_close_fd(s);
      if ((err = lsocket_open_fd(s, ai->ai_family)) != 0) continue;
    }
    err = bind(s->fd, ai->ai_addr, ai->ai_addrlen) == 0 ? LSOCKET_DONE : errno;
    if (err == LSOCKET_DONE) break;
  }
  freeaddrinfo(res);
  return err == LSOCKET_DONE ? 0 : lsocket_push_error(L, err);
}

static void push_family(lua_State *L, int family) {
  if (family == AF_INET) lua_pushliteral(L, "inet");
  else if (family == AF_INET6) lua_pushliteral(L, "inet6");
  else lua_pushliteral(L, "uknown");     /* sic: LuaSocket's spelling */
}

/* getpeername (peer) or getsockname: address, port, family. The port of
   getsockname is a string, as LuaSocket 3.1.0 gives it; a Unix socket's
   name is its path. */
int lsocket_push_name(lua_State *L, lsocket *s, int peer) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  int rc = peer ? getpeername(s->fd, (struct sockaddr *)&addr, &len)
                : getsockname(s->fd, (struct sockaddr *)&addr, &len);
  if (rc < 0) return lsocket_push_error(L, errno);
  if (addr.ss_family == AF_UNIX) {
    lsocket_push_path(L, &addr, len);
    return 1;
  }
  if (lsocket_push_address(L, &addr, len, !peer) == 0) return 2;
  push_family(L, addr.ss_family);
  return 3;
}

/* Push an IP address and its port (a string if port_string, else an
   integer) and return 1, or push nil, err and return 0. */
int lsocket_push_address(lua_State *L, const struct sockaddr_storage *addr,
                         socklen_t len, int port_string) {
  char host[INET6_ADDRSTRLEN], port[8];
  int rc = getnameinfo((const struct sockaddr *)addr, len, host, sizeof host,
                       port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gai_strerror(rc));
    return 0;
  }
  lua_pushstring(L, host);
  if (port_string) lua_pushstring(L, port);
  else lua_pushinteger(L, strtol(port, NULL, 10));
  return 1;
}

int lsocket_getsockname(lua_State *L) {
  return lsocket_push_name(L, lsocket_check_any(L), 0);
}

int lsocket_getfamily(lua_State *L) {
  lsocket *s = lsocket_check_any(L);
  if (s->family == AF_INET6) lua_pushliteral(L, "inet6");
  else lua_pushliteral(L, "inet4");       /* also before it has one */
  return 1;
}

/* A Unix socket's address: 1, or 0 having pushed nil, "path too long". */
int lsocket_unix_address(lua_State *L, const char *path,
                         struct sockaddr_un *addr, socklen_t *len) {
  size_t n = strlen(path);
  memset(addr, 0, sizeof *addr);
  if (n >= sizeof addr->sun_path) {
    lua_pushnil(L);
    lua_pushliteral(L, "path too long");
    return 0;
  }
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path, n);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return 1;
}

/* Push the path of a Unix socket's address: "" for one without a name. */
void lsocket_push_path(lua_State *L, const struct sockaddr_storage *addr,
                       socklen_t len) {
  const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
  size_t at = offsetof(struct sockaddr_un, sun_path);
  lua_pushlstring(L, un->sun_path,
                  len > at ? strnlen(un->sun_path, len - at) : 0);
}

/* A family argument: "unspec" (the default), "inet" or "inet6". */
int lsocket_family_arg(lua_State *L, int index) {
  static const char *const names[] = {"unspec", "inet", "inet6", NULL};
  static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
  return families[luaL_checkoption(L, index, "unspec", names)];
}


/* ---------------------------------------------------------------- dns */

/* What gethostbyname gave LuaSocket, made from getaddrinfo: the first
   IPv4 address and {name =, alias = {}, ip = {...}}; for a numeric
   address the name is the one a reverse lookup finds, if any. Pushes the
   two, or nil and "host not found". */
static int host_entry(lua_State *L, const char *address) {
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_in first;
  struct in_addr numeric;
  char ip[INET_ADDRSTRLEN], name[NI_MAXHOST];
  int n = 0, gai, rc;
  stream_hints(&hints, AF_INET, SOCK_STREAM, AI_CANONNAME);
  if (lookup(L, address, NULL, &hints, GREEN_FOREVER, &res) != NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "host not found");
    return 2;
  }
  memcpy(&first, res->ai_addr, sizeof first);
  inet_ntop(AF_INET, &first.sin_addr, ip, sizeof ip);
  lua_pushstring(L, ip);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, res->ai_canonname ? res->ai_canonname : address);
  lua_setfield(L, -2, "name");
  lua_newtable(L);
  lua_setfield(L, -2, "alias");
  lua_newtable(L);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    char each[INET_ADDRSTRLEN];
    if (ai->ai_family != AF_INET) continue;
    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr,
              each, sizeof each);
    lua_pushstring(L, each);
    lua_rawseti(L, -2, ++n);
  }
  lua_setfield(L, -2, "ip");
  freeaddrinfo(res);
  if (inet_pton(AF_INET, address, &numeric) == 1) {
    rc = green_getnameinfo((struct sockaddr *)&first, sizeof first, name,
                           sizeof name, NULL, 0, NI_NAMEREQD, GREEN_FOREVER,
                           &gai);
    if (rc != 0 && rc != GREEN_ENODATA)
      lgreen_check_result(L, rc, "name lookup");
    lua_pushstring(L, rc == 0 ? name : ip);
    lua_setfield(L, -2, "name");
  }
  return 2;
}

static int l_toip(lua_State *L) {
  return host_entry(L, luaL_checkstring(L, 1));
}

static int l_tohostname(lua_State *L) {
  int n = host_entry(L, luaL_checkstring(L, 1));
  if (lua_isnil(L, -2)) return n;
  lua_getfield(L, -1, "name");
  lua_replace(L, -3);
  return 2;
}

static int l_getaddrinfo(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  struct addrinfo hints, *res = NULL, *ai;
  const char *why;
  int n = 0;
  stream_hints(&hints, AF_UNSPEC, SOCK_STREAM, 0);
  if ((why = lookup(L, host, NULL, &hints, GREEN_FOREVER, &res)) != NULL) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_newtable(L);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    char addr[INET6_ADDRSTRLEN];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0,
                    NI_NUMERICHOST) != 0)
      continue;
    lua_createtable(L, 0, 2);
    push_family(L, ai->ai_family);
    lua_setfield(L, -2, "family");
    lua_pushstring(L, addr);
    lua_setfield(L, -2, "addr");
    lua_rawseti(L, -2, ++n);
  }
  freeaddrinfo(res);
  return 1;
}

/* getnameinfo(host, service): the names of each address of host, and the
   service's name. */
static int l_getnameinfo(lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  const char *service = luaL_optstring(L, 2, NULL);
  struct addrinfo hints, *res = NULL, *ai;
  char name[NI_MAXHOST], serv[NI_MAXSERV] = "";
  const char *why;
  int n = 0, gai, rc;
  if (host == NULL && service == NULL)
    return luaL_error(L, "host and serv cannot be both nil");
  stream_hints(&hints, AF_UNSPEC, SOCK_STREAM, 0);
  if ((why = lookup(L, host, service, &hints, GREEN_FOREVER, &res)) != NULL) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_newtable(L);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    rc = green_getnameinfo(ai->ai_addr, ai->ai_addrlen,
                           host ? name : NULL, host ? sizeof name : 0,
                           service ? serv : NULL, service ? sizeof serv : 0,
                           0, GREEN_FOREVER, &gai);
    if (rc != 0) {
      freeaddrinfo(res);
      if (rc != GREEN_ENODATA) lgreen_check_result(L, rc, "name lookup");
      lua_pushnil(L);
      lua_pushstring(L, lsocket_gaistrerror(rc, gai));
      return 2;
    }
    if (host) {
      lua_pushstring(L, name);
      lua_rawseti(L, -2, ++n);
    }
  }
  freeaddrinfo(res);
  if (service == NULL) return 1;
  lua_pushstring(L, serv);
  return 2;
}

static int l_gethostname(lua_State *L) {
  char name[257];
  if (gethostname(name, sizeof name) < 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  name[sizeof name - 1] = '\0';
  lua_pushstring(L, name);
  return 1;
}

/* Add the dns table to the module table on top. */
void lsocket_open_dns(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"toip", l_toip},
    {"tohostname", l_tohostname},
    {"getaddrinfo", l_getaddrinfo},
    {"getnameinfo", l_getnameinfo},
    {"gethostname", l_gethostname},
    {NULL, NULL}
  };
  luaL_newlib(L, functions);
  lua_setfield(L, -2, "dns");
}
