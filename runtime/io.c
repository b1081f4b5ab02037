/*
** io.c: waiting for a file descriptor on a stack-local ev_io, with an
** optional stack-local timeout. Both watchers are stopped on every exit
** path: readiness, timeout, kill or deadlock.
*/

#include <fcntl.h>
#include <poll.h>

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
