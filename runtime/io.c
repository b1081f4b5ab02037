/*
** io.c: waiting for a file descriptor on a stack-local ev_io, with an
** optional stack-local timeout. Both watchers are stopped on every exit
** path: readiness, timeout, kill, deadlock, or green_cancel_fd from a
** greenlet about to close the descriptor. On it, cooperative read,
** write, accept and connect for C hosts, as Tarantool's coio: each tries
** the system call first and waits only when it says EAGAIN.
*/

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/*
** One greenlet's wait on one descriptor: its watcher, and its place in the
** hub's list of the descriptor's waits, through which green_cancel_fd
** wakes it. It lives on the waiter's stack.
*/
typedef struct green__fdwait {
  ev_io io;
  green_t *g;
  struct green__fdwait *next, *prev;
  int linked;
} green__fdwait;

static int to_green_events(int revents) {
  if (revents & EV_ERROR) return GREEN_EBADF;
  return ((revents & EV_READ) ? GREEN_READABLE : 0) |
         ((revents & EV_WRITE) ? GREEN_WRITABLE : 0);
}

static void io_wake_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  green__wake(((green__fdwait *)(void *)w)->g, to_green_events(revents));
}

/* Make room in the hub's table for descriptor fd. */
static int grow_fd_waits(green_hub_t *hub, int fd) {
  struct green__fdwait **table;
  int len = hub->fd_waits_len > 0 ? hub->fd_waits_len : 64;
  while (len <= fd) len = len > INT_MAX / 2 ? INT_MAX : len * 2;
  table = realloc(hub->fd_waits, (size_t)len * sizeof *table);
  if (table == NULL) return GREEN_ENOMEM;
  memset(table + hub->fd_waits_len, 0,
         (size_t)(len - hub->fd_waits_len) * sizeof *table);
  hub->fd_waits = table;
  hub->fd_waits_len = len;
  return 0;
}

/* Start watching fd for events (GREEN_READABLE, GREEN_WRITABLE) on behalf
   of the current greenlet. */
static int fdwait_start(green_hub_t *hub, green__fdwait *w, int fd,
                        int events) {
  int rc;
  if (fd >= hub->fd_waits_len && (rc = grow_fd_waits(hub, fd)) < 0)
    return rc;
  ev_io_init(&w->io, io_wake_cb, fd,
             ((events & GREEN_READABLE) ? EV_READ : 0) |
             ((events & GREEN_WRITABLE) ? EV_WRITE : 0));
  w->g = hub->current;
  w->prev = NULL;
  w->next = hub->fd_waits[fd];
  if (w->next != NULL) w->next->prev = w;
  hub->fd_waits[fd] = w;
  w->linked = 1;
  ev_io_start(hub->loop, &w->io);
  return 0;
}

static void fdwait_stop(green_hub_t *hub, green__fdwait *w) {
  if (!w->linked) return;     /* stopped by green_cancel_fd */
  ev_io_stop(hub->loop, &w->io);
  if (w->prev != NULL) w->prev->next = w->next;
  else hub->fd_waits[w->io.fd] = w->next;
  if (w->next != NULL) w->next->prev = w->prev;
  w->linked = 0;
}

int green_cancel_fd(int fd) {
  green_hub_t *hub = green__this_hub;
  int woken = 0;
  if (hub == NULL) return GREEN_ESRCH;
  if (fd < 0) return GREEN_EBADF;
  while (fd < hub->fd_waits_len && hub->fd_waits[fd] != NULL) {
    green__fdwait *w = hub->fd_waits[fd];
    fdwait_stop(hub, w);
    green__wake(w->g, GREEN_EBADF);
    woken++;
  }
  return woken;
}

/* Poll fds without waiting: the count ready, or -errno. */
static int poll_ready(struct pollfd *fds, nfds_t n) {
  int ready;
  do ready = poll(fds, n, 0); while (ready < 0 && errno == EINTR);
  return ready < 0 ? -errno : ready;
}

/* A zero timeout asks "ready now?": answered by poll(2), not the loop, so
   that the answer does not depend on the order of callbacks. */
static int poll_now(int fd, int events) {
  struct pollfd p;
  int n;
  p.fd = fd;
  p.events = (short)(((events & GREEN_READABLE) ? POLLIN : 0) |
                     ((events & GREEN_WRITABLE) ? POLLOUT : 0));
  p.revents = 0;
  if ((n = poll_ready(&p, 1)) < 0) return n;
  if (n == 0) return GREEN_ETIMEDOUT;
  if (p.revents & POLLNVAL) return GREEN_EBADF;
  /* Hang-up and error count as ready: the next read or write reports it. */
  if (p.revents & (POLLERR | POLLHUP)) return events;
  return ((p.revents & POLLIN) ? GREEN_READABLE : 0) |
         ((p.revents & POLLOUT) ? GREEN_WRITABLE : 0);
}

int green_wait_fd(int fd, int events, double timeout) {
  green_hub_t *hub;
  green__fdwait w;
  ev_timer timer;
  int rc = green__check_blocking(&hub), deadline;
  if (rc < 0) return rc;
  if (fd < 0 || fcntl(fd, F_GETFD) == -1) return GREEN_EBADF;
  if (events == 0 || (events & ~(GREEN_READABLE | GREEN_WRITABLE)))
    return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if (timeout == 0) {
    if (hub->current->kill_pending) return green__block(hub);
    return poll_now(fd, events);
  }
  if ((rc = fdwait_start(hub, &w, fd, events)) < 0) return rc;
  deadline = green__has_deadline(timeout);
  if (deadline) green__timer_start(hub, &timer, hub->current, timeout);
  rc = green__block(hub);
  if (deadline) ev_timer_stop(hub->loop, &timer);
  fdwait_stop(hub, &w);
  return rc;
}

static int to_green_mask(short pollevents) {
  return ((pollevents & POLLIN) ? GREEN_READABLE : 0) |
         ((pollevents & POLLOUT) ? GREEN_WRITABLE : 0);
}

/* Watch every fd of fds until one wakes the caller; the wake's status.
   *cancelled counts the descriptors green_cancel_fd took away. */
static int poll_block(green_hub_t *hub, struct pollfd *fds, nfds_t n,
                      double timeout, int *cancelled) {
  green__fdwait *waits = calloc(n, sizeof *waits);
  ev_timer timer;
  nfds_t i;
  int rc = 0, deadline = green__has_deadline(timeout);
  *cancelled = 0;
  if (waits == NULL) return GREEN_ENOMEM;
  for (i = 0; i < n && rc == 0; i++)
    if (fds[i].fd >= 0 && to_green_mask(fds[i].events) != 0)
      rc = fdwait_start(hub, &waits[i], fds[i].fd,
                        to_green_mask(fds[i].events));
  if (rc == 0) {
    if (deadline) green__timer_start(hub, &timer, hub->current, timeout);
    rc = green__block(hub);
    if (deadline) ev_timer_stop(hub->loop, &timer);
  }
  for (i = 0; i < n; i++) {
    /* Cancelled: its number may already name another descriptor, so
       poll(2) could not tell; it reads as closed. */
    if (rc == GREEN_EBADF && waits[i].g != NULL && !waits[i].linked) {
      fds[i].revents = POLLNVAL;
      (*cancelled)++;
    }
    fdwait_stop(hub, &waits[i]);
  }
  free(waits);
  return rc;
}

int green_poll(struct pollfd *fds, nfds_t n, double timeout) {
  green_hub_t *hub;
  double start = green_now(), left = timeout;
  int rc = green__check_blocking(&hub), cancelled;
  if (rc < 0) return rc;
  if (fds == NULL && n > 0) return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  for (;;) {
    if ((rc = poll_ready(fds, n)) != 0) return rc;
    if (left == 0) {
      if (hub->current->kill_pending) return green__block(hub);
      return GREEN_ETIMEDOUT;
    }
    rc = poll_block(hub, fds, n, left, &cancelled);
    if (cancelled > 0) return cancelled;
    if (rc < 0) return rc;
    /* Woken by a descriptor: poll says which are ready. None may be, if
       another greenlet took what was there. */
    if (green__has_deadline(timeout)) {
      left = start + timeout - green_now();
      if (left < 0) left = 0;
    }
  }
}


/* ---------------------------------------------------------------- transfers */

/* The time left of a wait that may take several: timeout counted from
   start. */
static double time_left(double timeout, double start) {
  double left;
  if (!green__has_deadline(timeout)) return timeout;
  left = start + timeout - green_now();
  return left > 0 ? left : 0;
}

/* Wait for fd after a system call said EAGAIN: 0 once ready, or why not. */
static int wait_again(int fd, int events, double timeout, double start) {
  int rc = green_wait_fd(fd, events, time_left(timeout, start));
  return rc < 0 ? rc : 0;
}

/* A call that may block checks what a blocking wait would before trying
   the system call, so that a caller learns it may not block even when the
   call would not have had to. */
static int check_io(int fd, double timeout) {
  green_hub_t *hub;
  int rc = green__check_blocking(&hub);
  if (rc < 0) return rc;
  if (fd < 0) return GREEN_EBADF;
  return green__check_timeout(timeout);
}

ssize_t green_read(int fd, void *buf, size_t len, double timeout) {
  double start = green_now();
  int rc = check_io(fd, timeout);
  if (rc < 0) return rc;
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    if ((rc = wait_again(fd, GREEN_READABLE, timeout, start)) < 0) return rc;
  }
}

int green_write(int fd, const void *buf, size_t len, double timeout,
                size_t *written) {
  double start = green_now();
  size_t done = 0;
  int rc = check_io(fd, timeout);
  while (rc == 0 && done < len) {
    /* send(2) where it can: MSG_NOSIGNAL, so a peer gone never raises
       SIGPIPE; write(2) for what is not a socket. */
    ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = write(fd, (const char *)buf + done, len - done);
    if (n >= 0)
      done += (size_t)n;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
      rc = wait_again(fd, GREEN_WRITABLE, timeout, start);
    else if (errno != EINTR)
      rc = -errno;
  }
  if (written != NULL) *written = done;
  return rc;
}

int green_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                 double timeout) {
  double start = green_now();
  int rc = check_io(fd, timeout);
  if (rc < 0) return rc;
  for (;;) {
    int conn = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) return conn;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    if ((rc = wait_again(fd, GREEN_READABLE, timeout, start)) < 0) return rc;
  }
}

int green_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                  double timeout) {
  int rc = check_io(fd, timeout), err = 0;
  socklen_t err_len = sizeof err;
  if (rc < 0) return rc;
  if (addr == NULL) return GREEN_EINVAL;
  if (connect(fd, addr, addrlen) == 0) return 0;
  if (errno != EINPROGRESS && errno != EINTR) return -errno;
  /* In progress (or interrupted, which goes on the same way): the socket
     says how it ended once it is writable. */
  if ((rc = green_wait_fd(fd, GREEN_WRITABLE, timeout)) < 0) return rc;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) return -errno;
  return -err;
}
