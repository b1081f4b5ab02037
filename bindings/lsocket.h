/*
** lsocket.h: what the files of green.socket share. A socket is a userdata
** holding a non-blocking descriptor; its calls try the system call first
** and wait as a greenlet (green_wait_fd) only when it says EAGAIN, so a
** socket call blocks its greenlet and nothing else. The classes, method
** tables, results and error strings are LuaSocket 3.1's.
*/

#ifndef LSOCKET_H
#define LSOCKET_H

#include <sys/socket.h>

#include "lgreen.h"

/* Outcomes of a transfer besides an errno (positive): LuaSocket's. */
enum { LSOCKET_DONE = 0, LSOCKET_TIMEOUT = -1, LSOCKET_CLOSED = -2 };

/* Received bytes not yet given to Lua: [first, last) of data. A receive
   takes them out only when it returns, so bytes that arrived before a
   kill or a green.Timeout stay for the next receive. */
typedef struct lsocket_buffer {
  char *data;
  size_t first, last, size;
} lsocket_buffer;

/* settimeout's two limits (negative: none) and when the call began to
   wait (negative: not yet): each wait may take at most block, and the
   call at most total (LuaSocket's timeout.c as it behaves, which the
   manual describes otherwise). */
typedef struct lsocket_timeout {
  double block, total, start;
} lsocket_timeout;

/* The class names of one kind of socket, the upvalue of its methods.
   Datagram sockets: client is the connected class, master the
   unconnected one, and there is no server. */
typedef struct lsocket_kind {
  const char *any, *master, *client, *server;
  int family, type;         /* what the kind's constructor makes */
} lsocket_kind;

typedef struct lsocket {
  int fd;                   /* -1: closed, or a tcp{master} not yet made */
  int family;               /* AF_INET, AF_INET6, AF_UNIX; AF_UNSPEC for a
                               socket.tcp() that bind or connect makes */
  int type;                 /* SOCK_STREAM or SOCK_DGRAM */
  double block, total;      /* settimeout */
  double received, sent, birthday;    /* getstats */
  lsocket_buffer in;
  green_t *reader, *writer; /* the greenlets inside a receive, a send */
} lsocket;

/* class.c: classes as LuaSocket's auxiliar.c makes them */
void lgreen_class_new(lua_State *L, const char *classname,
                      const luaL_Reg *methods, const void *shared);
void lgreen_class_group(lua_State *L, const char *classname,
                        const char *group);
void lgreen_class_set(lua_State *L, const char *classname, int index);
void *lgreen_class_check(lua_State *L, const char *classname, int index);
void *lgreen_class_check_group(lua_State *L, const char *group, int index);
void *lgreen_class_test_group(lua_State *L, const char *group, int index);
const char *lgreen_class_name(lua_State *L, int index);
int lgreen_class_tostring(lua_State *L);

/* socket.c: what every socket has */
const lsocket_kind *lsocket_kind_of(lua_State *L);
lsocket *lsocket_check(lua_State *L, const char *classname);
lsocket *lsocket_check_any(lua_State *L);
lsocket *lsocket_new(lua_State *L, const char *classname, int fd,
                     int family, int type);
int lsocket_open_fd(lsocket *s, int family);
void lsocket_close_fd(lsocket *s);
void lsocket_timeout_start(const lsocket *s, lsocket_timeout *tm);
int lsocket_wait(lua_State *L, lsocket *s, int events, lsocket_timeout *tm,
                 const char *what);
void lsocket_enter(lua_State *L, lsocket *s, int events, const char *what);
void lsocket_leave(lsocket *s, int events);
const char *lsocket_strerror(int err);
int lsocket_push_error(lua_State *L, int err);
int lsocket_push_one(lua_State *L);
void lsocket_new_kind(lua_State *L, const lsocket_kind *kind,
                      const luaL_Reg *methods);

/* buffer.c: a stream socket's receive and send */
int lsocket_send(lua_State *L, lsocket *s);
int lsocket_receive(lua_State *L, lsocket *s);

/* address.c: names and addresses, looked up off the loop */
const char *lsocket_gaistrerror(int rc, int gai);
int lsocket_connect(lua_State *L, lsocket *s, const char *host,
                    const char *service, lsocket_timeout *tm);
int lsocket_bind(lua_State *L, lsocket *s, const char *host,
                 const char *service);
int lsocket_push_name(lua_State *L, lsocket *s, int peer);
int lsocket_push_address(lua_State *L, const struct sockaddr_storage *addr,
                         socklen_t len, int port_string);
int lsocket_getsockname(lua_State *L);
int lsocket_getfamily(lua_State *L);
struct sockaddr_un;
int lsocket_unix_address(lua_State *L, const char *path,
                         struct sockaddr_un *addr, socklen_t *len);
void lsocket_push_path(lua_State *L, const struct sockaddr_storage *addr,
                       socklen_t len);
int lsocket_family_arg(lua_State *L, int index);
void lsocket_open_dns(lua_State *L);

/* sockopt.c: the methods setoption and getoption */
int lsocket_setoption(lua_State *L);
int lsocket_getoption(lua_State *L);

/* stream.c, datagram.c, select.c */
void lsocket_open_stream(lua_State *L);
void lsocket_open_datagram(lua_State *L);
int lsocket_select(lua_State *L);

#endif
