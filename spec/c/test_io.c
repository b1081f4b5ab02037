/*
** test_io.c: waiting on file descriptors.
*/

#include <fcntl.h>
#include <math.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include <ev.h>

#include "check.h"
#include "green.h"

static green_hub_t *hub;
static int fds[2];

static void setup(void) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(pipe(fds), ==, 0);
}

static void teardown(void) {
  close(fds[0]);
  close(fds[1]);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static int result;

static void *read_one(void *arg) {
  char c = 0;
  result = green_wait_fd(fds[0], GREEN_READABLE, (double)(intptr_t)arg);
  if (result == GREEN_READABLE) CHECK_INT(read(fds[0], &c, 1), ==, 1);
  return (void *)(intptr_t)c;
}

static void *write_later(void *arg) {
  CHECK_INT(green_sleep(0.01), ==, 0);
  CHECK_INT(write(fds[1], "x", 1), ==, 1);
  return arg;
}

static void test_wait_with_data(void) {
  green_t *reader;
  void *c;
  setup();
  CHECK_INT(green_spawn(read_one, (void *)(intptr_t)GREEN_FOREVER, NULL, &reader), ==, 0);
  CHECK_INT(green_spawn(write_later, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_join(reader, 5), ==, 0);
  CHECK_INT(result, ==, GREEN_READABLE);
  CHECK_INT(green_result(reader, &c), ==, 0);
  CHECK_INT((intptr_t)c, ==, 'x');
  green_release(reader);
  teardown();
}

static void test_wait_times_out(void) {
  setup();
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 0), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_wait_fd(fds[1], GREEN_WRITABLE, 0), ==, GREEN_WRITABLE);
  CHECK_INT(green_wait_fd(fds[1], GREEN_WRITABLE | GREEN_READABLE, 1), ==,
            GREEN_WRITABLE);
  CHECK_INT(write(fds[1], "y", 1), ==, 1);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 0), ==, GREEN_READABLE);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 1), ==, GREEN_READABLE);
  teardown();
}

static void test_kill_blocked_on_fd(void) {
  green_t *reader;
  green_hub_stats_t before, after;
  setup();
  CHECK_INT(green_spawn(read_one, (void *)(intptr_t)GREEN_FOREVER, NULL, &reader), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_state(reader), ==, GREEN_BLOCKED);
  CHECK_INT(green_kill(reader), ==, 0);
  CHECK_INT(green_join(reader, 5), ==, 0);
  CHECK_INT(result, ==, GREEN_ECANCELED);
  /* The watcher was stopped: data arriving now wakes nobody, and the loop
     has nothing left, so run returns at once. */
  CHECK_INT(write(fds[1], "z", 1), ==, 1);
  CHECK_INT(green_hub_stats(hub, &before), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_stats(hub, &after), ==, 0);
  CHECK_INT(after.alive, ==, 0);
  green_release(reader);
  teardown();
}

static void test_bad_fds(void) {
  int closed;
  setup();
  closed = dup(fds[0]);
  close(closed);
  CHECK_INT(green_wait_fd(-1, GREEN_READABLE, 1), ==, GREEN_EBADF);
  CHECK_INT(green_wait_fd(closed, GREEN_READABLE, 1), ==, GREEN_EBADF);
  CHECK_INT(green_wait_fd(fds[0], 0, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_wait_fd(fds[0], 4, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, -3), ==, GREEN_EINVAL);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, (double)NAN), ==, GREEN_EINVAL);
  teardown();
}

/* A libev callback runs on the hub: blocking there is refused. */
static int from_hub[4];
static void host_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
  from_hub[0] = green_wait_fd(fds[0], GREEN_READABLE, 1);
  from_hub[1] = green_sleep(0.1);
  from_hub[2] = green_yield();
  from_hub[3] = green_hub_run(hub);
}

static void test_blocking_on_hub_refused(void) {
  ev_timer t;
  setup();
  ev_timer_init(&t, host_timer_cb, 0.001, 0);
  ev_timer_start(green_hub_loop(hub), &t);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(from_hub[0], ==, GREEN_EPERM);
  CHECK_INT(from_hub[1], ==, GREEN_EPERM);
  CHECK_INT(from_hub[2], ==, GREEN_EPERM);
  CHECK_INT(from_hub[3], ==, GREEN_EPERM);
  teardown();
}

static void test_wait_outside_hub(void) {
  CHECK_INT(pipe(fds), ==, 0);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 1), ==, GREEN_ESRCH);
  close(fds[0]);
  close(fds[1]);
}


/* ---------------------------------------------------------------- transfers */

/* A connected pair of non-blocking stream sockets, small buffers so that
   a large write must wait for its reader. */
static int pair[2];

static void open_pair(void) {
  int small = 4096, i;
  CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), ==, 0);
  for (i = 0; i < 2; i++) {
    setsockopt(pair[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(pair[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
}

#define BIG (1 << 20)
static unsigned char *sent, *got;
static size_t got_len, written;
static int write_rc;

/* A hub, a pair, and a megabyte to send through it; and the end of it. */
static void start_transfer(void) {
  size_t i;
  setup();
  open_pair();
  sent = malloc(BIG);
  got = malloc(BIG);
  CHECK(sent != NULL && got != NULL);
  for (i = 0; i < BIG; i++) sent[i] = (unsigned char)(i * 7 + (i >> 11));
  got_len = written = 0;
}

static void end_transfer(void) {
  free(sent);
  free(got);
  close(pair[0]);
  close(pair[1]);
  teardown();
}

static double write_timeout = GREEN_FOREVER;
static void *write_all(void *arg) {
  write_rc = green_write(pair[0], sent, BIG, write_timeout, &written);
  return arg;
}

/* Read until end of file or the count wanted, at most 5 seconds. */
static void read_into(size_t want) {
  while (got_len < want) {
    ssize_t n = green_read(pair[1], got + got_len, BIG - got_len, 5);
    CHECK(n >= 0);
    if (n == 0) break;
    got_len += (size_t)n;
  }
}

static void *read_all(void *arg) {
  read_into(BIG);
  return arg;
}

static void test_read_and_write_a_megabyte(void) {
  green_t *writer, *reader;
  start_transfer();
  CHECK_INT(green_spawn(write_all, NULL, NULL, &writer), ==, 0);
  CHECK_INT(green_spawn(read_all, NULL, NULL, &reader), ==, 0);
  CHECK_INT(green_join(writer, 10), ==, 0);
  CHECK_INT(green_join(reader, 10), ==, 0);
  CHECK_INT(write_rc, ==, 0);
  CHECK(written == BIG);
  CHECK(got_len == BIG);
  CHECK(memcmp(sent, got, BIG) == 0);
  green_release(writer);
  green_release(reader);
  end_transfer();
}

/* A write cut short says how much went out; the reader then finds exactly
   that, in order: nothing lost, nothing sent twice. */
static void check_cut_short(int expected_rc) {
  CHECK_INT(write_rc, ==, expected_rc);
  CHECK(written > 0 && written < BIG);
  shutdown(pair[0], SHUT_WR);
  read_into(BIG);
  CHECK(got_len == written);
  CHECK(memcmp(sent, got, written) == 0);
}

static void test_write_timed_out_midway(void) {
  start_transfer();
  write_timeout = 0.05;
  write_all(NULL);                     /* nobody reads meanwhile */
  check_cut_short(GREEN_ETIMEDOUT);
  end_transfer();
}

static void test_write_killed_midway(void) {
  green_t *writer;
  start_transfer();
  CHECK_INT(green_spawn(write_all, NULL, NULL, &writer), ==, 0);
  CHECK_INT(green_yield(), ==, 0);     /* it fills the buffers and waits */
  CHECK_INT(green_state(writer), ==, GREEN_BLOCKED);
  CHECK_INT(green_kill(writer), ==, 0);
  CHECK_INT(green_join(writer, 5), ==, 0);
  check_cut_short(GREEN_ECANCELED);
  green_release(writer);
  end_transfer();
}

static ssize_t read_rc;
static void *read_some(void *arg) {
  char buf[16];
  read_rc = green_read(pair[1], buf, sizeof buf, (double)(intptr_t)arg);
  return NULL;
}

static void test_read_times_out_and_is_killed(void) {
  green_t *reader;
  char buf[4];
  setup();
  open_pair();
  CHECK_INT(green_read(pair[1], buf, sizeof buf, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_read(pair[1], buf, sizeof buf, 0), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_spawn(read_some, (void *)(intptr_t)GREEN_FOREVER, NULL, &reader), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(reader), ==, 0);
  CHECK_INT(green_join(reader, 5), ==, 0);
  CHECK_INT(read_rc, ==, GREEN_ECANCELED);
  /* What arrives afterwards is still there for the next read. */
  CHECK_INT(write(pair[0], "abc", 3), ==, 3);
  CHECK_INT(green_read(pair[1], buf, sizeof buf, 1), ==, 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  close(pair[0]);
  CHECK_INT(green_read(pair[1], buf, sizeof buf, 1), ==, 0);   /* end */
  green_release(reader);
  close(pair[1]);
  teardown();
}

static void test_write_to_a_closed_peer(void) {
  size_t n = 99;
  setup();
  open_pair();
  signal(SIGPIPE, SIG_DFL);            /* the default would kill the test */
  close(pair[1]);
  CHECK_INT(green_write(pair[0], "x", 1, 1, &n), ==, -EPIPE);
  CHECK(n == 0);
  close(pair[0]);
  CHECK_INT(green_write(fds[1], "p", 1, 1, &n), ==, 0);   /* a pipe too */
  CHECK(n == 1);
  teardown();
}

/* A listening socket on 127.0.0.1 and its port. */
static int listen_loopback(struct sockaddr_in *addr) {
  socklen_t len = sizeof *addr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_INT(bind(fd, (struct sockaddr *)addr, sizeof *addr), ==, 0);
  CHECK_INT(listen(fd, 16), ==, 0);
  CHECK_INT(getsockname(fd, (struct sockaddr *)addr, &len), ==, 0);
  return fd;
}

static int listener, accepted;
static void *accept_one(void *arg) {
  accepted = green_accept(listener, NULL, NULL, (double)(intptr_t)arg);
  return NULL;
}

static void test_accept_and_connect(void) {
  struct sockaddr_in addr;
  green_t *acceptor;
  char c = 0;
  int client;
  setup();
  listener = listen_loopback(&addr);
  CHECK_INT(green_accept(listener, NULL, NULL, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_spawn(accept_one, (void *)(intptr_t)5, NULL, &acceptor), ==, 0);
  client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_INT(green_connect(client, (struct sockaddr *)&addr, sizeof addr, 5), ==, 0);
  CHECK_INT(green_join(acceptor, 5), ==, 0);
  CHECK(accepted >= 0);
  CHECK(fcntl(accepted, F_GETFL) & O_NONBLOCK);
  CHECK(fcntl(accepted, F_GETFD) & FD_CLOEXEC);
  CHECK_INT(green_write(client, "!", 1, 1, NULL), ==, 0);
  CHECK_INT(green_read(accepted, &c, 1, 1), ==, 1);
  CHECK_INT(c, ==, '!');
  close(client);
  close(accepted);
  /* Nobody listens there any more: refused. */
  close(listener);
  client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_INT(green_connect(client, (struct sockaddr *)&addr, sizeof addr, 5), ==,
            -ECONNREFUSED);
  close(client);
  green_release(acceptor);
  teardown();
}

static void test_accept_killed(void) {
  struct sockaddr_in addr;
  green_t *acceptor;
  setup();
  listener = listen_loopback(&addr);
  CHECK_INT(green_spawn(accept_one, (void *)(intptr_t)GREEN_FOREVER, NULL, &acceptor), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(acceptor), ==, 0);
  CHECK_INT(green_join(acceptor, 5), ==, 0);
  CHECK_INT(accepted, ==, GREEN_ECANCELED);
  close(listener);
  green_release(acceptor);
  teardown();
}

static void test_transfers_refuse_bad_calls(void) {
  char c;
  CHECK_INT(green_read(0, &c, 1, 1), ==, GREEN_ESRCH);     /* no hub */
  setup();
  CHECK_INT(green_read(-1, &c, 1, 1), ==, GREEN_EBADF);
  CHECK_INT(green_write(-1, &c, 1, 1, NULL), ==, GREEN_EBADF);
  CHECK_INT(green_accept(-1, NULL, NULL, 1), ==, GREEN_EBADF);
  CHECK_INT(green_connect(-1, NULL, 0, 1), ==, GREEN_EBADF);
  CHECK_INT(green_read(fds[0], &c, 1, -2), ==, GREEN_EINVAL);
  CHECK_INT(green_connect(fds[0], NULL, 0, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_accept(fds[0], NULL, NULL, 1), ==, -ENOTSOCK);
  teardown();
}


/* ---------------------------------------------------------------- lookups */

/* Only loopback names: numeric ones, localhost, and names refused
   before any name server is asked. */

static int first_port(const struct addrinfo *ai) {
  if (ai->ai_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_port);
  return ntohs(((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_port);
}

static void test_numeric_lookups_answer_at_once(void) {
  struct addrinfo hints, *res;
  int gai = -1;
  setup();
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  /* A timeout of 0 leaves no time for a worker: these never need one. */
  CHECK_INT(green_getaddrinfo("127.0.0.1", "8080", &hints, &res, 0, &gai), ==, 0);
  CHECK_INT(gai, ==, 0);
  CHECK_INT(res->ai_family, ==, AF_INET);
  CHECK_INT(first_port(res), ==, 8080);
  freeaddrinfo(res);
  CHECK_INT(green_getaddrinfo("::1", NULL, &hints, &res, 0, NULL), ==, 0);
  CHECK_INT(res->ai_family, ==, AF_INET6);
  freeaddrinfo(res);
  CHECK_INT(green_getaddrinfo(NULL, "7000", &hints, &res, 0, NULL), ==, 0);
  freeaddrinfo(res);
  teardown();
}

static void test_lookups_on_a_worker(void) {
  struct addrinfo hints, *res, *ai;
  int gai = -1, loopback = 0;
  setup();
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  CHECK_INT(green_getaddrinfo("localhost", "7000", &hints, &res, 10, &gai), ==, 0);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    CHECK_INT(first_port(ai), ==, 7000);
    loopback += ai->ai_family == AF_INET || ai->ai_family == AF_INET6;
  }
  CHECK(loopback > 0);
  freeaddrinfo(res);
  /* A service by name is looked up too. */
  CHECK_INT(green_getaddrinfo("127.0.0.1", "http", &hints, &res, 10, NULL), ==, 0);
  CHECK_INT(first_port(res), ==, 80);
  freeaddrinfo(res);
  /* Refused by getaddrinfo itself, without asking a name server. */
  hints.ai_flags = AI_NUMERICHOST;
  CHECK_INT(green_getaddrinfo("localhost", NULL, &hints, &res, 10, &gai), ==,
            GREEN_ENODATA);
  CHECK_INT(gai, ==, EAI_NONAME);
  CHECK(res == NULL);
  teardown();
}

/* Killed as it starts the lookup: it gives up, unless the lookup's thread
   was quicker than its wait, and then it has the answer and the kill waits
   for its next blocking call. Either way it ends with the kill, and holds
   no result it did not get. */
static int lookup_rc;
static void *lookup_killed(void *arg) {
  struct addrinfo *res = NULL;
  int rc;
  CHECK_INT(green_kill(green_current()), ==, 0);   /* at its next wait */
  rc = green_getaddrinfo("localhost", "80", NULL, &res, GREEN_FOREVER, NULL);
  CHECK((rc == 0) == (res != NULL));
  if (rc == 0) {
    freeaddrinfo(res);
    rc = green_yield();
  }
  lookup_rc = rc;
  return arg;
}

/* A caller that gives up leaves the lookup to its thread, which frees it:
   nothing leaks (valgrind and ASan runs check). */
static void test_lookups_given_up(void) {
  struct addrinfo *res = NULL;
  green_t *g;
  int rc;
  setup();
  /* A lookup may finish on its thread before a timeout of 0 is noticed:
     either answer is right, and nothing is left behind in either case. */
  rc = green_getaddrinfo("localhost", "80", NULL, &res, 0, NULL);
  CHECK(rc == 0 || rc == GREEN_ETIMEDOUT);
  CHECK((rc == 0) == (res != NULL));
  if (res != NULL) freeaddrinfo(res);
  res = NULL;
  CHECK_INT(green_spawn(lookup_killed, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_join(g, 10), ==, 0);
  CHECK_INT(lookup_rc, ==, GREEN_ECANCELED);
  green_release(g);
  CHECK_INT(green_getaddrinfo(NULL, NULL, NULL, &res, 1, NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_getaddrinfo("localhost", NULL, NULL, NULL, 1, NULL), ==,
            GREEN_EINVAL);
  CHECK_INT(green_getaddrinfo("localhost", NULL, NULL, &res, -2, NULL), ==,
            GREEN_EINVAL);
  teardown();
}

/* green_poll: the first of several descriptors to be ready. */
static void test_poll_several(void) {
  struct pollfd p[3];
  int other[2];
  green_t *writer;
  setup();
  CHECK_INT(pipe(other), ==, 0);
  p[0].fd = fds[0];   p[0].events = POLLIN;
  p[1].fd = -1;       p[1].events = POLLIN;    /* left out, as poll does */
  p[2].fd = other[0]; p[2].events = POLLIN;
  CHECK_INT(green_poll(p, 3, 0), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_poll(p, 3, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_spawn(write_later, NULL, NULL, &writer), ==, 0);
  CHECK_INT(green_poll(p, 3, 5), ==, 1);
  CHECK_INT(p[0].revents, ==, POLLIN);
  CHECK_INT(p[2].revents, ==, 0);
  CHECK_INT(write(other[1], "z", 1), ==, 1);
  CHECK_INT(green_poll(p, 3, GREEN_FOREVER), ==, 2);
  CHECK_INT(green_poll(NULL, 1, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_poll(p, 3, -2), ==, GREEN_EINVAL);
  CHECK_INT(green_join(writer, 5), ==, 0);
  green_release(writer);
  close(other[0]);
  close(other[1]);
  teardown();
}

/* A greenlet about to close a descriptor wakes those that wait on it. */
static int poll_result;
static void *poll_one(void *arg) {
  struct pollfd p;
  (void)arg;
  p.fd = fds[0];
  p.events = POLLIN;
  poll_result = green_poll(&p, 1, GREEN_FOREVER);
  return NULL;
}

static void test_cancel_wakes_waiters(void) {
  green_t *reader, *poller;
  setup();
  CHECK_INT(green_cancel_fd(fds[0]), ==, 0);
  CHECK_INT(green_spawn(read_one, (void *)(intptr_t)GREEN_FOREVER, NULL, &reader), ==, 0);
  CHECK_INT(green_spawn(poll_one, NULL, NULL, &poller), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_cancel_fd(fds[0]), ==, 2);
  /* Nothing watches it now: closing it leaves libev nothing stale, and the
     number may come back for another descriptor at once. */
  close(fds[0]);
  CHECK_INT(pipe(fds), ==, 0);
  CHECK_INT(green_join(reader, 5), ==, 0);
  CHECK_INT(green_join(poller, 5), ==, 0);
  CHECK_INT(result, ==, GREEN_EBADF);
  CHECK_INT(poll_result, >, 0);     /* the closed one: POLLNVAL */
  CHECK_INT(green_cancel_fd(-1), ==, GREEN_EBADF);
  green_release(reader);
  green_release(poller);
  teardown();
  CHECK_INT(green_cancel_fd(0), ==, GREEN_ESRCH);
}

static void test_reverse_lookups(void) {
  struct sockaddr_in sin;
  char host[NI_MAXHOST], service[NI_MAXSERV], tiny[2];
  int gai = -1;
  setup();
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Numeric: no time is needed. */
  CHECK_INT(green_getnameinfo((struct sockaddr *)&sin, sizeof sin, host,
                              sizeof host, service, sizeof service,
                              NI_NUMERICHOST | NI_NUMERICSERV, 0, &gai), ==, 0);
  CHECK(strcmp(host, "127.0.0.1") == 0);
  CHECK(strcmp(service, "80") == 0);
  /* By name, on a worker: the loopback address and the http port are in
     every /etc/hosts and /etc/services. */
  CHECK_INT(green_getnameinfo((struct sockaddr *)&sin, sizeof sin, host,
                              sizeof host, service, sizeof service, 0, 10,
                              &gai), ==, 0);
  CHECK(host[0] != '\0');
  CHECK(strcmp(service, "http") == 0);
  CHECK_INT(green_getnameinfo((struct sockaddr *)&sin, sizeof sin, NULL, 0,
                              tiny, sizeof tiny, 0, 10, &gai), ==,
            GREEN_ENODATA);
  CHECK_INT(gai, ==, EAI_OVERFLOW);
  CHECK_INT(green_getnameinfo((struct sockaddr *)&sin, sizeof sin, NULL, 0,
                              NULL, 0, 0, 10, NULL), ==, GREEN_EINVAL);
  teardown();
}

static const check_test_t tests[] = {
  CHECK_TEST(test_wait_with_data),
  CHECK_TEST(test_wait_times_out),
  CHECK_TEST(test_kill_blocked_on_fd),
  CHECK_TEST(test_bad_fds),
  CHECK_TEST(test_blocking_on_hub_refused),
  CHECK_TEST(test_wait_outside_hub),
  CHECK_TEST(test_read_and_write_a_megabyte),
  CHECK_TEST(test_write_timed_out_midway),
  CHECK_TEST(test_write_killed_midway),
  CHECK_TEST(test_read_times_out_and_is_killed),
  CHECK_TEST(test_write_to_a_closed_peer),
  CHECK_TEST(test_accept_and_connect),
  CHECK_TEST(test_accept_killed),
  CHECK_TEST(test_transfers_refuse_bad_calls),
  CHECK_TEST(test_numeric_lookups_answer_at_once),
  CHECK_TEST(test_lookups_on_a_worker),
  CHECK_TEST(test_lookups_given_up),
  CHECK_TEST(test_poll_several),
  CHECK_TEST(test_cancel_wakes_waiters),
  CHECK_TEST(test_reverse_lookups),
};

CHECK_MAIN(tests)
