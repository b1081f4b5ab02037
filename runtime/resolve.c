/*
** resolve.c: green_getaddrinfo and green_getnameinfo, name lookups that
** stop only their caller.
**
** getaddrinfo(3) may wait seconds for a name server, and has no
** non-blocking form, so a lookup runs on a worker thread of a pool the
** runtime keeps for lookups, made on first use, while the caller waits as
** a greenlet. A numeric address needs no name server: it is answered at
** once on the calling thread. A caller that gives up (a timeout, a kill)
** leaves its lookup to finish on its thread, which frees it.
*/

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define LOOKUP_THREADS 4

/* The lookup pool, per process: a child after fork has none of the
   parent's threads, so it makes its own. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static green_threadpool_t *pool;
static pid_t pool_pid;

static green_threadpool_t *lookup_pool(void) {
  green_threadpool_t *found;
  pthread_mutex_lock(&pool_lock);
  if (pool == NULL || pool_pid != getpid()) {
    pool = NULL;                  /* a parent's: its threads are not here */
    if (green_threadpool_new(LOOKUP_THREADS, &pool) < 0) pool = NULL;
    pool_pid = getpid();
  }
  found = pool;
  pthread_mutex_unlock(&pool_lock);
  return found;
}

typedef struct {
  green_work_t work;            /* first: the pool hands back this pointer */
  char *host, *service;
  struct addrinfo hints;
  int has_hints;
  struct addrinfo *res;
  int gai;                      /* getaddrinfo's result */
} lookup;

static void run_lookup(green_work_t *work) {
  lookup *l = (lookup *)work;
  l->gai = getaddrinfo(l->host, l->service, l->has_hints ? &l->hints : NULL,
                       &l->res);
}

static void free_lookup(lookup *l) {
  free(l->host);
  free(l->service);
  free(l);
}

/* A lookup its caller gave up on: withdrawn before it ran, or finished on
   its worker. */
static void abandon_lookup(green_work_t *work) {
  lookup *l = (lookup *)work;
  if (l->res != NULL) freeaddrinfo(l->res);
  free_lookup(l);
}

static char *copy(const char *s, int *ok) {
  char *c;
  if (s == NULL) return NULL;
  if ((c = strdup(s)) == NULL) *ok = 0;
  return c;
}

static lookup *new_lookup(const char *host, const char *service,
                          const struct addrinfo *hints) {
  lookup *l = calloc(1, sizeof *l);
  int ok = 1;
  if (l == NULL) return NULL;
  l->host = copy(host, &ok);
  l->service = copy(service, &ok);
  if (!ok) {
    free_lookup(l);
    return NULL;
  }
  if (hints != NULL) {          /* the fields getaddrinfo reads of hints */
    l->has_hints = 1;
    l->hints.ai_flags = hints->ai_flags;
    l->hints.ai_family = hints->ai_family;
    l->hints.ai_socktype = hints->ai_socktype;
    l->hints.ai_protocol = hints->ai_protocol;
  }
  l->work.fn = run_lookup;
  l->work.abandon = abandon_lookup;
  return l;
}

/* Whether getaddrinfo can answer without asking anyone: no host or a
   numeric address, and no service or a port number. */
static int answerable_at_once(const char *host, const char *service) {
  unsigned char addr[sizeof(struct in6_addr)];
  if (service != NULL && (service[0] == '\0' ||
                          strspn(service, "0123456789") != strlen(service)))
    return 0;
  return host == NULL || inet_pton(AF_INET, host, addr) == 1 ||
         inet_pton(AF_INET6, host, addr) == 1;
}

static int answer(int gai, int *gai_error) {
  if (gai == 0) return 0;
  if (gai_error != NULL) *gai_error = gai;
  return gai == EAI_MEMORY ? GREEN_ENOMEM : GREEN_ENODATA;
}

int green_getaddrinfo(const char *host, const char *service,
                      const struct addrinfo *hints, struct addrinfo **res,
                      double timeout, int *gai_error) {
  green_hub_t *hub;
  green_threadpool_t *lookups;
  lookup *l;
  int rc;
  if (gai_error != NULL) *gai_error = 0;
  if (res == NULL || (host == NULL && service == NULL)) return GREEN_EINVAL;
  *res = NULL;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if (answerable_at_once(host, service))
    return answer(getaddrinfo(host, service, hints, res), gai_error);
  if ((lookups = lookup_pool()) == NULL) return GREEN_ENOMEM;
  if ((l = new_lookup(host, service, hints)) == NULL) return GREEN_ENOMEM;
  if ((rc = green_threadpool_run(lookups, &l->work, timeout)) < 0)
    return rc;                  /* the lookup is abandon_lookup's now */
  *res = l->res;
  rc = answer(l->gai, gai_error);
  free_lookup(l);
  return rc;
}


/* ---------------------------------------------------------------- reverse */

typedef struct {
  green_work_t work;            /* first: the pool hands back this pointer */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int flags, want_host, want_service;
  char host[NI_MAXHOST], service[NI_MAXSERV];
  int gai;
} reverse_lookup;

static void run_reverse(green_work_t *work) {
  reverse_lookup *r = (reverse_lookup *)work;
  r->gai = getnameinfo((struct sockaddr *)&r->addr, r->addrlen,
                       r->want_host ? r->host : NULL,
                       r->want_host ? sizeof r->host : 0,
                       r->want_service ? r->service : NULL,
                       r->want_service ? sizeof r->service : 0, r->flags);
}

static void abandon_reverse(green_work_t *work) {
  free(work);
}

/* Copy a name the lookup found into the caller's buffer, which must hold
   it: getnameinfo's own rule (EAI_OVERFLOW). */
static int give_name(char *to, size_t to_len, const char *name) {
  size_t len = strlen(name);
  if (to == NULL) return 1;
  if (len >= to_len) return 0;
  memcpy(to, name, len + 1);
  return 1;
}

int green_getnameinfo(const struct sockaddr *addr, socklen_t addrlen,
                      char *host, size_t hostlen, char *service,
                      size_t servicelen, int flags, double timeout,
                      int *gai_error) {
  green_hub_t *hub;
  green_threadpool_t *lookups;
  reverse_lookup *r;
  int rc;
  if (gai_error != NULL) *gai_error = 0;
  if (addr == NULL || addrlen == 0 || addrlen > sizeof r->addr ||
      (host == NULL && service == NULL))
    return GREEN_EINVAL;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if ((host == NULL || (flags & NI_NUMERICHOST)) &&
      (service == NULL || (flags & NI_NUMERICSERV)))
    return answer(getnameinfo(addr, addrlen, host, (socklen_t)hostlen,
                              service, (socklen_t)servicelen, flags),
                  gai_error);
  if ((lookups = lookup_pool()) == NULL) return GREEN_ENOMEM;
  if ((r = calloc(1, sizeof *r)) == NULL) return GREEN_ENOMEM;
  memcpy(&r->addr, addr, addrlen);
  r->addrlen = addrlen;
  r->flags = flags;
  r->want_host = host != NULL;
  r->want_service = service != NULL;
  r->work.fn = run_reverse;
  r->work.abandon = abandon_reverse;
  if ((rc = green_threadpool_run(lookups, &r->work, timeout)) < 0)
    return rc;                  /* the lookup is abandon_reverse's now */
  rc = answer(r->gai, gai_error);
  if (rc == 0 && !(give_name(host, hostlen, r->host) &&
                   give_name(service, servicelen, r->service)))
    rc = answer(EAI_OVERFLOW, gai_error);
  free(r);
  return rc;
}
