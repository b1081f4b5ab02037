/*
** buffer.c: receive and send on a stream socket, with LuaSocket's
** patterns and results. Received bytes wait in the socket's buffer until
** a receive returns with them: a line is found with one memchr over the
** buffer, and a kill or a green.Timeout in the middle of a receive leaves
** every byte already received for the next one.
*/

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lsocket.h"

#define BUFFER_MIN 8192

static size_t buffered(const lsocket *s) {
  return s->in.last - s->in.first;
}

/* Room for more at the end: the bytes move to the front, or the buffer
   grows. Returns 0 or ENOMEM. */
static int make_room(lsocket_buffer *b) {
  size_t size;
  char *data;
  if (b->last < b->size) return 0;
  if (b->first > 0) {
    memmove(b->data, b->data + b->first, b->last - b->first);
    b->last -= b->first;
    b->first = 0;
    return 0;
  }
  size = b->size < BUFFER_MIN ? BUFFER_MIN : b->size * 2;
  if (size < b->size || (data = realloc(b->data, size)) == NULL)
    return ENOMEM;
  b->data = data;
  b->size = size;
  return 0;
}

/* Receive what the socket has into the buffer, waiting if it has nothing
   yet: DONE once some came, CLOSED at the end of the stream, TIMEOUT, or
   an errno. */
static int fill(lua_State *L, lsocket *s, lsocket_timeout *tm) {
  int err;
  for (;;) {
    ssize_t n;
    if (s->fd < 0) return LSOCKET_CLOSED;
    if ((err = make_room(&s->in)) != 0) return err;
    n = recv(s->fd, s->in.data + s->in.last, s->in.size - s->in.last, 0);
    if (n > 0) {
      s->in.last += (size_t)n;
      s->received += (double)n;
      return LSOCKET_DONE;
    }
    if (n == 0) return LSOCKET_CLOSED;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    err = lsocket_wait(L, s, GREEN_READABLE, tm, "receive");
    if (err != LSOCKET_DONE) return err;
  }
}

/* "*l": a line ends at LF. *len is the bytes up to and with it (or all
   that came, on an error). */
static int receive_line(lua_State *L, lsocket *s, lsocket_timeout *tm,
                        size_t *len, int *has_newline) {
  size_t scanned = 0;
  int err = LSOCKET_DONE;
  for (;;) {
    const char *nl = NULL;
    if (buffered(s) > scanned)    /* then data is not NULL */
      nl = memchr(s->in.data + s->in.first + scanned, '\n',
                  buffered(s) - scanned);
    if (nl != NULL) {
      *len = (size_t)(nl - (s->in.data + s->in.first)) + 1;
      *has_newline = 1;
      return LSOCKET_DONE;
    }
    scanned = buffered(s);
    if ((err = fill(L, s, tm)) != LSOCKET_DONE) break;
  }
  *len = buffered(s);
  *has_newline = 0;
  return err;
}

/* A count: wanted bytes. One receive is always made when none are
   buffered, even for 0, as LuaSocket does. */
static int receive_count(lua_State *L, lsocket *s, lsocket_timeout *tm,
                         size_t wanted, size_t *len) {
  int err = LSOCKET_DONE;
  if (buffered(s) == 0) err = fill(L, s, tm);
  while (err == LSOCKET_DONE && buffered(s) < wanted) err = fill(L, s, tm);
  *len = buffered(s) < wanted ? buffered(s) : wanted;
  return err;
}

/* "*a": all until the peer closes; "closed" only if nothing came. */
static int receive_all(lua_State *L, lsocket *s, lsocket_timeout *tm,
                       size_t *len) {
  int err;
  while ((err = fill(L, s, tm)) == LSOCKET_DONE) {}
  *len = buffered(s);
  if (err == LSOCKET_CLOSED && *len > 0) err = LSOCKET_DONE;
  return err;
}

/* Add len buffered bytes to b without the CRs. */
static void add_without_cr(luaL_Buffer *b, const char *p, size_t len) {
  const char *end = p + len, *cr;
  while ((cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
    luaL_addlstring(b, p, (size_t)(cr - p));
    p = cr + 1;
  }
  luaL_addlstring(b, p, (size_t)(end - p));
}

/* Push the prefix (the string at index 3, if prefix_len > 0) and the
   first len buffered bytes; for a line (newline 0 or 1, the count of LFs
   among them; -1 for other patterns) without its LF and CRs. A line
   without CR and without a prefix, the usual case, is pushed as it is. */
static void push_received(lua_State *L, const lsocket *s, size_t len,
                          int newline, size_t prefix_len) {
  const char *bytes = len > 0 ? s->in.data + s->in.first : "";
  size_t keep = newline > 0 ? len - 1 : len;
  luaL_Buffer b;
  if (prefix_len == 0 &&
      (newline < 0 || keep == 0 || memchr(bytes, '\r', keep) == NULL)) {
    lua_pushlstring(L, bytes, keep);
    return;
  }
  luaL_buffinit(L, &b);
  if (prefix_len > 0) {
    lua_pushvalue(L, 3);
    luaL_addvalue(&b);
  }
  if (newline >= 0) add_without_cr(&b, bytes, keep);
  else luaL_addlstring(&b, bytes, keep);
  luaL_pushresult(&b);
}

enum { PATTERN_LINE, PATTERN_ALL, PATTERN_COUNT };

static int check_pattern(lua_State *L, size_t *count) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, 2);
    luaL_argcheck(L, n >= 0 && n < 9e15, 2, "invalid receive pattern");
    *count = (size_t)n;
    return PATTERN_COUNT;
  } else {
    const char *p = luaL_optstring(L, 2, "*l");
    if (p[0] == '*' && p[1] == 'l') return PATTERN_LINE;
    if (p[0] == '*' && p[1] == 'a') return PATTERN_ALL;
    return luaL_argerror(L, 2, "invalid receive pattern");
  }
}

/* receive([pattern [, prefix]]): data, or nil, err, partial. The bytes
   returned, partial ones too, leave the buffer only once pushed. */
int lsocket_receive(lua_State *L, lsocket *s) {
  lsocket_timeout tm;
  size_t count = 0, len = 0, prefix_len;
  int pattern, err = LSOCKET_DONE, has_newline = 0;
  lua_settop(L, 3);
  pattern = check_pattern(L, &count);
  luaL_optlstring(L, 3, "", &prefix_len);
  lsocket_timeout_start(s, &tm);
  lsocket_enter(L, s, GREEN_READABLE, "receive");
  switch (pattern) {
    case PATTERN_LINE: err = receive_line(L, s, &tm, &len, &has_newline); break;
    case PATTERN_ALL: err = receive_all(L, s, &tm, &len); break;
    default:
      if (prefix_len == 0 || count > prefix_len)
        err = receive_count(L, s, &tm, count - prefix_len, &len);
  }
  lsocket_leave(s, GREEN_READABLE);
  push_received(L, s, len, pattern == PATTERN_LINE ? has_newline : -1,
                prefix_len);
  s->in.first += len;
  if (s->in.first == s->in.last) s->in.first = s->in.last = 0;
  if (err == LSOCKET_DONE) {
    lua_pushnil(L);
    lua_pushnil(L);
  } else {
    lua_pushnil(L);
    lua_pushstring(L, lsocket_strerror(err));
    lua_rotate(L, -3, -1);
  }
  return 3;
}

/* Send len bytes: DONE, or why not; *sent counts those that went. */
static int send_bytes(lua_State *L, lsocket *s, const char *data, size_t len,
                      size_t *sent) {
  lsocket_timeout tm;
  int err = LSOCKET_DONE;
  lsocket_timeout_start(s, &tm);
  *sent = 0;
  while (err == LSOCKET_DONE && *sent < len) {
    ssize_t n;
    if (s->fd < 0) return LSOCKET_CLOSED;
    n = send(s->fd, data + *sent, len - *sent, MSG_NOSIGNAL);
    if (n >= 0) {
      *sent += (size_t)n;
      s->sent += (double)n;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      err = lsocket_wait(L, s, GREEN_WRITABLE, &tm, "send");
    } else if (errno == EPIPE) {
      err = LSOCKET_CLOSED;
    } else if (errno != EINTR) {
      err = errno;
    }
  }
  return err;
}

/* send(data [, i [, j]]): the index of the last byte sent, or nil, err
   and that index. i and j work as string.sub's. */
int lsocket_send(lua_State *L, lsocket *s) {
  size_t size, sent = 0;
  const char *data = luaL_checklstring(L, 2, &size);
  lua_Number i = luaL_optnumber(L, 3, 1), j = luaL_optnumber(L, 4, -1);
  int err = LSOCKET_DONE;
  if (i < 0) i = (lua_Number)size + i + 1;
  if (j < 0) j = (lua_Number)size + j + 1;
  if (!(i >= 1)) i = 1;
  if (!(j >= 0)) j = 0;
  if (j > (lua_Number)size) j = (lua_Number)size;
  i = floor(i);
  j = floor(j);
  lsocket_enter(L, s, GREEN_WRITABLE, "send");
  if (i <= j)
    err = send_bytes(L, s, data + (size_t)i - 1, (size_t)(j - i + 1), &sent);
  lsocket_leave(s, GREEN_WRITABLE);
  if (err != LSOCKET_DONE) {
    lsocket_push_error(L, err);
    lua_pushnumber(L, (lua_Number)sent + i - 1);
    return 3;
  }
  lua_pushnumber(L, (lua_Number)sent + i - 1);
  lua_pushnil(L);
  lua_pushnil(L);
  return 3;
}
