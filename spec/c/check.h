/*
** check.h: the C tests' few assertions and their runner.
**
** Each test runs in a child process of its own, so a failed check (which
** ends the child), a crash or a hang (an alarm ends it) fails that test
** alone. The runner prints one line per test: "ok - name" or
** "not ok - name".
**
** `prog --list` lists the tests and `prog name` runs one in this process,
** for emulators (qemu-user 7.2 hangs in clone on this machine and does not
** apply RLIMIT_AS to guest mappings). There, with CHECK_EMULATED set, tests
** that need a native process (they create processes or threads, or rely on
** address-space limits) print "skip - name" and count neither way.
*/

#ifndef CHECK_H
#define CHECK_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_TIMEOUT_SECONDS 120

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,      \
              #cond);                                                       \
      fflush(stderr);                                                       \
      _exit(1);                                                             \
    }                                                                       \
  } while (0)

/* Compare two integers and show both on failure. */
#define CHECK_INT(a, op, b)                                                 \
  do {                                                                      \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);         \
    if (!(check_a_ op check_b_)) {                                          \
      fprintf(stderr, "%s:%d: check failed: %s %s %s (%lld vs %lld)\n",     \
              __FILE__, __LINE__, #a, #op, #b, check_a_, check_b_);         \
      fflush(stderr);                                                       \
      _exit(1);                                                             \
    }                                                                       \
  } while (0)

/* End the test as skipped, saying why: for limits of a tool, not of green. */
#define CHECK_SKIP_STATUS 77
#define CHECK_SKIP(why)                                                     \
  do {                                                                      \
    fprintf(stderr, "skipped: %s\n", why);                                  \
    fflush(stderr);                                                         \
    _exit(CHECK_SKIP_STATUS);                                               \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
  int native;           /* the test needs a native process */
} check_test_t;

#define CHECK_TEST(fn) { #fn, fn, 0 }
#define CHECK_TEST_NATIVE(fn) { #fn, fn, 1 }

/* Run fn in a child; 0 if it returned, else its wait status (never 0). */
static inline int check_in_child(void (*fn)(void)) {
  int status;
  pid_t pid;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    alarm(CHECK_TIMEOUT_SECONDS);
    fn();
    exit(0);
  }
  while (waitpid(pid, &status, 0) < 0) {
  }
  return status == 0 ? 0 : (status ? status : -1);
}

static inline int check_run_all(const check_test_t *tests, size_t n) {
  size_t i;
  int failed = 0;
  for (i = 0; i < n; i++) {
    int status = check_in_child(tests[i].fn);
    if (status == 0) {
      printf("ok - %s\n", tests[i].name);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == CHECK_SKIP_STATUS) {
      printf("skip - %s\n", tests[i].name);
    } else {
      failed = 1;
      if (WIFSIGNALED(status))
        printf("not ok - %s (signal %d)\n", tests[i].name, WTERMSIG(status));
      else
        printf("not ok - %s (exit %d)\n", tests[i].name, WEXITSTATUS(status));
    }
    fflush(stdout);
  }
  return failed;
}

/* `prog --list` or `prog name`: see the top of this file. */
static inline int check_run_named(const check_test_t *tests, size_t n,
                                  const char *name) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (strcmp(name, "--list") == 0) {
      printf("%s\n", tests[i].name);
    } else if (strcmp(name, tests[i].name) == 0) {
      if (tests[i].native && getenv("CHECK_EMULATED") != NULL) {
        printf("skip - %s (needs a native process)\n", name);
        return 0;
      }
      tests[i].fn();
      printf("ok - %s\n", name);
      return 0;
    }
  }
  return strcmp(name, "--list") == 0 ? 0 : 2;
}

#define CHECK_MAIN(tests)                                                   \
  int main(int argc, char **argv) {                                         \
    size_t n = sizeof(tests) / sizeof(tests[0]);                            \
    if (argc > 1) return check_run_named(tests, n, argv[1]);                \
    return check_run_all(tests, n);                                         \
  }

#endif
