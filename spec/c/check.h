/*
** check.h: the C tests' few assertions and their runner.
**
** Each test runs in a child process of its own, so a failed check (which
** ends the child), a crash or a hang (an alarm ends it) fails that test
** alone. The runner prints one line per test: "ok - name" or
** "not ok - name".
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

typedef struct {
  const char *name;
  void (*fn)(void);
} check_test_t;

#define CHECK_TEST(fn) { #fn, fn }

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

#define CHECK_MAIN(tests)                                                   \
  int main(void) {                                                          \
    return check_run_all(tests, sizeof(tests) / sizeof(tests[0]));          \
  }

#endif
