/*
** threadpool.c: green_threadpool_t, OS threads that run C functions while
** the greenlets that submitted them wait.
**
** Tasks queue under the pool's mutex and workers sleep on its condition
** variable. A worker that finishes a task posts the task's own
** green_call_t to the submitter's hub (green_hub_post: lock-free, one
** async wake for any number of completions), and the hub wakes the
** submitter. The hub is held (green_hub_ref) while a task is out, so a
** greenlet waiting for a worker is never taken for deadlocked. A task its
** caller abandoned is handed to abandon() by the worker itself, so it
** never depends on a hub that may be gone by then.
*/

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

enum {
  TASK_IDLE,
  TASK_QUEUED,
  TASK_RUNNING,     /* set by the worker that took it */
  TASK_FINISHED,    /* fn returned; the completion is on its way */
  TASK_DONE,        /* the completion reached the hub */
  TASK_ABANDONED    /* its caller left while it ran */
};

struct green_threadpool {
  pthread_mutex_t lock;
  pthread_cond_t work_ready;
  green_work_t *head, *tail;    /* queued tasks, FIFO */
  int stopping;
  unsigned threads;
  pthread_t *ids;
  /* green_threadpool_close: the workers still running, and the hub told
     when the last one has left. */
  unsigned live;
  green_hub_t *closer;
  green_call_t all_left;
  green__node closer_waiters;
  int left;                     /* set on the closer's hub */
};


/* ---------------------------------------------------------------- workers */

static green_work_t *take_task(green_threadpool_t *pool) {
  green_work_t *w;
  while (pool->head == NULL && !pool->stopping)
    pthread_cond_wait(&pool->work_ready, &pool->lock);
  if ((w = pool->head) == NULL) return NULL;
  if ((pool->head = w->next_) == NULL) pool->tail = NULL;
  w->state_ = TASK_RUNNING;
  return w;
}

/* The last worker to leave tells a closer waiting on its hub. After the
   post the worker touches nothing of the pool. */
static void leave(green_threadpool_t *pool) {
  green_hub_t *closer = --pool->live == 0 ? pool->closer : NULL;
  pthread_mutex_unlock(&pool->lock);
  if (closer != NULL) green_hub_post(closer, &pool->all_left);
}

static void *worker_main(void *arg) {
  green_threadpool_t *pool = arg;
  green_work_t *w;
  pthread_mutex_lock(&pool->lock);
  while ((w = take_task(pool)) != NULL) {
    int abandoned;
    pthread_mutex_unlock(&pool->lock);
    w->fn(w);
    pthread_mutex_lock(&pool->lock);
    if (!(abandoned = w->state_ == TASK_ABANDONED)) w->state_ = TASK_FINISHED;
    pthread_mutex_unlock(&pool->lock);
    if (abandoned)
      w->abandon(w);
    else
      green_hub_post(w->hub_, &w->done_);   /* w is the hub's from here */
    pthread_mutex_lock(&pool->lock);
  }
  leave(pool);
  return NULL;
}

static unsigned online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

/* Workers block every signal: handlers run on the application's threads. */
static unsigned start_workers(green_threadpool_t *pool) {
  sigset_t all, previous;
  unsigned started = 0;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pool->live = pool->threads;     /* before any can leave */
  while (started < pool->threads &&
         pthread_create(&pool->ids[started], NULL, worker_main, pool) == 0)
    started++;
  pthread_mutex_lock(&pool->lock);
  pool->live -= pool->threads - started;
  pthread_mutex_unlock(&pool->lock);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  return started;
}

static void stop_workers(green_threadpool_t *pool, unsigned started) {
  unsigned i;
  pthread_mutex_lock(&pool->lock);
  pool->stopping = 1;
  pthread_cond_broadcast(&pool->work_ready);
  pthread_mutex_unlock(&pool->lock);
  for (i = 0; i < started; i++) pthread_join(pool->ids[i], NULL);
}

static void destroy(green_threadpool_t *pool) {
  pthread_cond_destroy(&pool->work_ready);
  pthread_mutex_destroy(&pool->lock);
  free(pool->ids);
  free(pool);
}

int green_threadpool_new(unsigned threads, green_threadpool_t **out) {
  green_threadpool_t *pool;
  unsigned started;
  if (out == NULL || threads > 4096) return GREEN_EINVAL;
  if ((pool = calloc(1, sizeof *pool)) == NULL) return GREEN_ENOMEM;
  pool->threads = threads ? threads : online_cpus();
  if ((pool->ids = calloc(pool->threads, sizeof *pool->ids)) == NULL) {
    free(pool);
    return GREEN_ENOMEM;
  }
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->work_ready, NULL);
  if ((started = start_workers(pool)) < pool->threads) {
    stop_workers(pool, started);
    destroy(pool);
    return GREEN_ENOMEM;
  }
  *out = pool;
  return 0;
}

int green_threadpool_free(green_threadpool_t *pool) {
  int busy;
  if (pool == NULL) return 0;
  pthread_mutex_lock(&pool->lock);
  busy = pool->head != NULL;
  pthread_mutex_unlock(&pool->lock);
  if (busy) return GREEN_EBUSY;
  stop_workers(pool, pool->threads);
  destroy(pool);
  return 0;
}

/* On the closer's hub: every worker has left. */
static void workers_left(green_call_t *call) {
  green_threadpool_t *pool = green__container(call, green_threadpool_t,
                                              all_left);
  pool->left = 1;
  green_hub_unref(pool->closer);
  green__wake_one(&pool->closer_waiters, NULL);
}

static int have_left(const void *arg) {
  return ((const green_threadpool_t *)arg)->left;
}

int green_threadpool_close(green_threadpool_t *pool) {
  green_hub_t *hub;
  int busy, rc;
  if (pool == NULL) return 0;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  pthread_mutex_lock(&pool->lock);
  if (!(busy = pool->head != NULL)) {
    green__list_init(&pool->closer_waiters);
    pool->all_left.fn = workers_left;
    pool->closer = hub;
    pool->left = pool->live == 0;
    if (!pool->left) green_hub_ref(hub);   /* a wait for a worker */
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->work_ready);
  }
  pthread_mutex_unlock(&pool->lock);
  if (busy) return GREEN_EBUSY;
  /* A kill now would leave workers running on freed memory: it waits,
     and interrupts the caller's next blocking call instead. */
  green__wait_out(hub, &pool->closer_waiters, have_left, pool, 0);
  stop_workers(pool, pool->threads);       /* they have left: no wait */
  destroy(pool);
  return 0;
}

unsigned green_threadpool_threads(const green_threadpool_t *pool) {
  return pool != NULL ? pool->threads : 0;
}


/* ---------------------------------------------------------------- submitting */

/* On the hub, once a worker has finished the task. */
static void task_done(green_call_t *call) {
  green_work_t *w = green__container(call, green_work_t, done_);
  green_hub_unref(w->hub_);
  w->state_ = TASK_DONE;    /* the worker is done with w: the post ordered it */
  green__wake_one(w->waiters_, NULL);
}

static void withdraw(green_threadpool_t *pool, green_work_t *w) {
  green_work_t **link = &pool->head, *prev = NULL;
  while (*link != w) {
    prev = *link;
    link = &(*link)->next_;
  }
  *link = w->next_;
  if (pool->tail == w) pool->tail = prev;
  w->state_ = TASK_IDLE;
}

static int state_of(green_threadpool_t *pool, const green_work_t *w) {
  int state;
  pthread_mutex_lock(&pool->lock);
  state = w->state_;
  pthread_mutex_unlock(&pool->lock);
  return state;
}

/* A caller that gave up while its task ran (without abandon) or after it
   finished stays until the completion has reached the hub: fn may use its
   memory, and the completion will touch the task. */
typedef struct {
  green_threadpool_t *pool;
  const green_work_t *w;
} pool_task;

static int task_arrived(const void *arg) {
  const pool_task *pt = arg;
  return state_of(pt->pool, pt->w) == TASK_DONE;
}

/* The caller's wait ended with rc before the task was done. */
static int give_up(green_threadpool_t *pool, green_hub_t *hub,
                   green_work_t *w, int rc) {
  pool_task pt;
  int state, abandoned;
  pthread_mutex_lock(&pool->lock);
  if ((state = w->state_) == TASK_QUEUED) withdraw(pool, w);
  abandoned = state == TASK_RUNNING && w->abandon != NULL;
  if (abandoned) w->state_ = TASK_ABANDONED;
  pthread_mutex_unlock(&pool->lock);
  if (state == TASK_QUEUED || abandoned) {
    green_hub_unref(hub);
    if (state == TASK_QUEUED && w->abandon != NULL) w->abandon(w);
    return rc;
  }
  pt.pool = pool;
  pt.w = w;
  green__wait_out(hub, w->waiters_, task_arrived, &pt, rc);
  return 0;
}

int green_threadpool_run(green_threadpool_t *pool, green_work_t *w,
                         double timeout) {
  green_hub_t *hub;
  green__node waiters;
  green__waiter waiter;
  int rc, handed_off;
  if (pool == NULL || w == NULL || w->fn == NULL) return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  green__list_init(&waiters);
  w->hub_ = hub;
  w->waiters_ = &waiters;
  w->done_.fn = task_done;
  w->next_ = NULL;
  green_hub_ref(hub);
  pthread_mutex_lock(&pool->lock);
  w->state_ = TASK_QUEUED;
  if (pool->tail != NULL) pool->tail->next_ = w; else pool->head = w;
  pool->tail = w;
  pthread_mutex_unlock(&pool->lock);
  /* After the unlock: a worker woken under the lock would only block on it
     (two more system calls a task on a busy CPU). */
  pthread_cond_signal(&pool->work_ready);
  /* Read before the wait: once the task is abandon()'s it may be freed. */
  handed_off = w->abandon != NULL;
  if ((rc = green__wait_as(hub, &waiters, timeout, &waiter)) < 0 &&
      (rc = give_up(pool, hub, w, rc)) < 0 && handed_off)
    return rc;            /* the task is abandon()'s now: hands off */
  w->state_ = TASK_IDLE;
  w->waiters_ = NULL;
  return rc;
}
