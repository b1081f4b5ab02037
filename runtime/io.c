/*
** io.c: waiting for a file descriptor on a stack-local ev_io, with an
** optional stack-local timeout. Both watchers are stopped on every exit
** path: readiness, timeout, kill or deadlock. On it, cooperative read,
** write, accept and connect for C hosts, as Tarantool's coio: each tries
** the system call first and waits only when it says EAGAIN.
*/

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static int to_green_events(int revents) {
  if (revents & EV_ERROR) return GREEN_EBADF;
  return ((revents & EV_READ) ? GREEN_READABLE : 0) |
         ((revents & EV_WRITE) ? GREEN_WRITABLE : 0);
}

static void io_wake_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  green__wake(w->data, to_green_events(revents));
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
  do n = poll(&p, 1, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return GREEN_ETIMEDOUT;
  if (p.revents & POLLNVAL) return GREEN_EBADF;
  /* Hang-up and error count as ready: the next read or write reports it. */
  if (p.revents & (POLLERR | POLLHUP)) return events;
  return ((p.revents & POLLIN) ? GREEN_READABLE : 0) |
         ((p.revents & POLLOUT) ? GREEN_WRITABLE : 0);
}

int green_wait_fd(int fd, int events, double timeout) {
  green_hub_t *hub;
  ev_io io;
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
  ev_io_init(&io, io_wake_cb, fd,
             ((events & GREEN_READABLE) ? EV_READ : 0) |
             ((events & GREEN_WRITABLE) ? EV_WRITE : 0));
  io.data = hub->current;
  ev_io_start(hub->loop, &io);
  deadline = green__has_deadline(timeout);
  if (deadline) green__timer_start(hub, &timer, hub->current, timeout);
  rc = green__block(hub);
  if (deadline) ev_timer_stop(hub->loop, &timer);
  ev_io_stop(hub->loop, &io);
  return rc;
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
