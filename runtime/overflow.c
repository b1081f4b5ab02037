/*
** overflow.c: reporting a greenlet's stack overflow before the process dies.
**
** A guard-page hit raises SIGSEGV on the overflowing stack itself, so the
** handler runs on an alternate signal stack (one per hub thread). It names
** the greenlet and its stack, then lets the fault take its course: the
** previous handler if there was one, else the default action (a core dump).
** Everything the handler calls is async-signal-safe.
*/

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static struct sigaction previous_segv, previous_bus;
static pthread_once_t installed = PTHREAD_ONCE_INIT;


/* ---------------------------------------------------------------- report */

typedef struct {
  char text[512];
  size_t len;
} line_t;

static void put_str(line_t *l, const char *s) {
  while (*s != '\0' && l->len < sizeof l->text - 1) l->text[l->len++] = *s++;
}

static void put_num(line_t *l, uint64_t n, unsigned base) {
  char digits[24];
  int i = 0;
  do {
    digits[i++] = "0123456789abcdef"[n % base];
    n /= base;
  } while (n != 0);
  if (base == 16) put_str(l, "0x");
  while (i > 0 && l->len < sizeof l->text - 1) l->text[l->len++] = digits[--i];
}

static void describe(line_t *l, const green_t *g, const char *what,
                     const void *addr) {
  put_str(l, "green: stack overflow in greenlet ");
  if (g->name != NULL) {
    put_str(l, "'");
    put_str(l, g->name);
    put_str(l, "' ");
  }
  put_str(l, "#");
  put_num(l, g->id, 10);
  put_str(l, ": ");
  put_str(l, what);
  put_str(l, " at ");
  put_num(l, (uintptr_t)addr, 16);
  put_str(l, "; its stack is ");
  put_num(l, (uintptr_t)g->stack->lo, 16);
  put_str(l, "-");
  put_num(l, (uintptr_t)g->stack->lo + g->stack->size, 16);
  put_str(l, " (");
  put_num(l, g->stack->size / 1024, 10);
  put_str(l, " KiB)\n");
}

static void write_line(const line_t *l) {
  size_t done = 0;
  while (done < l->len) {
    ssize_t n = write(STDERR_FILENO, l->text + done, l->len - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
}

/* A canary found overwritten at a switch: the stack below was written
   over, so nothing on this thread can be trusted to continue. */
void green__report_overflow(const green_t *g, const char *what,
                            const void *addr) {
  line_t l;
  l.len = 0;
  describe(&l, g, what, addr);
  write_line(&l);
  abort();
}


/* ---------------------------------------------------------------- signal */

static void pass_on(int sig, siginfo_t *info, void *uc) {
  const struct sigaction *prev = sig == SIGBUS ? &previous_bus : &previous_segv;
  if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction != NULL) {
    prev->sa_sigaction(sig, info, uc);
    return;
  }
  if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
    return;
  }
  /* Returning re-runs the faulting access, which now kills the process. */
  signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *uc) {
  green_hub_t *hub = green__this_hub;
  const green_t *g = hub != NULL ? hub->current : NULL;
  if (g != NULL && g->stack != NULL) {
    const char *addr = info->si_addr;
    if (addr >= g->stack->guard_lo && addr < g->stack->lo) {
      line_t l;
      l.len = 0;
      describe(&l, g, "it hit the guard page", addr);
      write_line(&l);
    }
  }
  pass_on(sig, info, uc);
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
  sigaction(SIGBUS, &sa, &previous_bus);
}

void green__overflow_install(void) {
  pthread_once(&installed, install);
}

/* Give this thread a signal stack unless it has one already. */
int green__altstack_enable(green_hub_t *hub) {
  stack_t current, ss;
  if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE))
    return 0;
  hub->altstack_size = SIGSTKSZ > 65536 ? SIGSTKSZ : 65536;
  if ((hub->altstack = malloc(hub->altstack_size)) == NULL) return GREEN_ENOMEM;
  ss.ss_sp = hub->altstack;
  ss.ss_size = hub->altstack_size;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, NULL) != 0) {
    free(hub->altstack);
    hub->altstack = NULL;
    return GREEN_ENOMEM;
  }
  return 0;
}

void green__altstack_disable(green_hub_t *hub) {
  stack_t ss;
  if (hub->altstack == NULL) return;
  memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  free(hub->altstack);
  hub->altstack = NULL;
}
