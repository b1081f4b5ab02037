/*
** green.h: greenlets for C, on libev.
**
** A hub owns one thread's libev loop and a scheduler. The thread that creates
** it becomes the hub's main greenlet; every greenlet spawned afterwards gets
** its own C stack. A greenlet that blocks (sleep, fd wait, join) parks and the
** next ready greenlet runs; the loop is polled only when nothing is ready, or
** at least once per switch interval.
**
** Conventions
**   - Functions return 0 (or a count) on success and a negative GREEN_E* code
**     on failure; green_strerror() names it. A failing call changes nothing.
**   - "May block" functions switch greenlets. Call them from a greenlet
**     (the main greenlet counts), never from a libev callback running on the
**     hub: they return GREEN_EPERM there.
**   - Functions without a hub argument act on the calling thread's hub and
**     return GREEN_ESRCH on a thread that has none.
**   - Only green_hub_post() is safe from any thread.
**   - Timeouts are seconds as doubles; GREEN_FOREVER means no timeout.
**
** This header never includes a Lua header: the Lua bindings are one client.
*/

#ifndef GREEN_H
#define GREEN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GREEN_BUILDING)
#  define GREEN_API __attribute__((visibility("default")))
#else
#  define GREEN_API
#endif

struct ev_loop;

#define GREEN_VERSION_MAJOR 0
#define GREEN_VERSION_MINOR 1

/* A timeout that never expires. Any other negative timeout is invalid. */
#define GREEN_FOREVER (-1.0)


/* ---------------------------------------------------------------- errors */

/* XX(name, errno value, message) */
#define GREEN_ERRNO_MAP(XX)                                                   \
  XX(EINVAL,    EINVAL,    "invalid argument")                                \
  XX(ENOMEM,    ENOMEM,    "out of memory")                                   \
  XX(ETIMEDOUT, ETIMEDOUT, "timed out")                                       \
  XX(ECANCELED, ECANCELED, "greenlet was killed")                             \
  XX(EDEADLK,   EDEADLK,   "the wait would block forever")                    \
  XX(EPERM,     EPERM,     "may block only from a greenlet, not the hub")     \
  XX(ESRCH,     ESRCH,     "no hub on this thread")                           \
  XX(EXDEV,     EXDEV,     "greenlet belongs to another hub")                 \
  XX(EBADF,     EBADF,     "bad file descriptor")                             \
  XX(EEXIST,    EEXIST,    "this thread already has a hub")                   \
  XX(EBUSY,     EBUSY,     "busy: greenlets are still alive or running")      \
  XX(EAGAIN,    EAGAIN,    "not ready: it would have to wait")                \
  XX(EPIPE,     EPIPE,     "channel is closed")                               \
  XX(EOVERFLOW, EOVERFLOW, "released more times than acquired")               \
  XX(ENOSPC,    ENOSPC,    "no mappings left for stacks: the rest are kept "  \
                           "for the process (raise vm.max_map_count)")        \
  XX(ENODATA,   ENODATA,   "the name lookup failed (its gai_error says why)") \

typedef enum {
#define GREEN__ERR_ENUM(name, value, msg) GREEN_##name = -(value),
  GREEN_ERRNO_MAP(GREEN__ERR_ENUM)
#undef GREEN__ERR_ENUM
  GREEN__ERR_END = 0
} green_errno_t;

/* Message for an error code; never NULL. */
GREEN_API const char *green_strerror(int err);
/* Name of an error code ("GREEN_ETIMEDOUT"); never NULL. */
GREEN_API const char *green_err_name(int err);


/* ---------------------------------------------------------------- types */

typedef struct green_hub green_hub_t;     /* opaque; one per thread */
typedef struct green_greenlet green_t;    /* opaque; reference counted */

/* A greenlet's entry function. Its return value is the greenlet's result. */
typedef void *(*green_entry_t)(void *arg);

typedef enum {
  GREEN_NEW,       /* spawned, has not run yet */
  GREEN_RUNNING,   /* the current greenlet of its hub */
  GREEN_READY,     /* suspended, queued to run */
  GREEN_BLOCKED,   /* suspended, waiting for a timer, fd, join... */
  GREEN_DEAD       /* returned, or killed before it started */
} green_state_t;

typedef struct {
  size_t stack_size;          /* default stack size, 16 KiB to 1 GiB;
                                 0: 512 KiB */
  unsigned stack_pool_max;    /* free stacks kept for reuse; 0: 1024 */
  unsigned guarded_max;       /* stacks with their own guard page before
                                 arena stacks with canaries take over;
                                 0: 16384 (two mappings each) */
  double switch_interval;     /* poll at least this often; 0: 0.005 s */
  struct ev_loop *loop;       /* loop to use; NULL: a new one */
} green_hub_options_t;

typedef struct {
  const char *name;           /* copied; NULL: unnamed */
  size_t stack_size;          /* 16 KiB to 1 GiB; 0: the hub's default */
} green_spawn_options_t;

typedef struct {
  uint64_t spawned;           /* greenlets spawned since the hub was made */
  uint64_t switches;          /* context switches */
  uint64_t polls;             /* times the hub polled the loop */
  unsigned alive;             /* spawned greenlets not yet dead */
  unsigned ready;             /* length of the ready queue */
  unsigned stacks_mapped;     /* stacks mapped with their own guard page */
  unsigned stacks_in_arenas;  /* arena stack slots in existence */
  unsigned stacks_pooled;     /* free stacks waiting for reuse */
  unsigned stackless;         /* new greenlets waiting for a stack (past
                                 the mappings kept for the process) */
  uint64_t stacks_reused;     /* starts served from the pool */
  uint64_t stack_maps;        /* mmap calls made for stacks and arenas */
} green_hub_stats_t;

/* A call handed to a hub from any thread; see green_hub_post(). The caller
   owns the memory and sets fn; next is private. */
typedef struct green_call {
  void (*fn)(struct green_call *call);   /* public: runs on the hub */
  struct green_call *next;               /* private */
} green_call_t;


/* ---------------------------------------------------------------- hubs */

/* Create this thread's hub; the calling stack becomes its main greenlet.
   opts may be NULL. Returns GREEN_EEXIST if the thread has one already. */
GREEN_API int green_hub_new(const green_hub_options_t *opts,
                            green_hub_t **hub);

/* Destroy a hub. Only from its main greenlet, with no greenlet alive
   (GREEN_EBUSY otherwise). A loop handed in by the host is left to it. */
GREEN_API int green_hub_free(green_hub_t *hub);

/* The calling thread's hub, or NULL. */
GREEN_API green_hub_t *green_hub_current(void);

/* The hub's main greenlet: the stack of the thread that made it. */
GREEN_API green_t *green_hub_main(green_hub_t *hub);

/* The hub's libev loop, for host watchers. Their callbacks run on the hub:
   they may spawn, kill and post, but not block. */
GREEN_API struct ev_loop *green_hub_loop(green_hub_t *hub);

/* May block. Run until no greenlet is alive and the loop has no active
   watchers. Only from the hub's main greenlet. Returns 0 or an error. */
GREEN_API int green_hub_run(green_hub_t *hub);

/* May block. Run ready greenlets and poll the loop for at most `seconds`
   (0: one round of ready greenlets and a poll that does not wait), then
   return to the caller: one slice of a host's frame loop. The budget can be
   overrun by the switch interval plus one round of the greenlets that were
   ready. Only from the hub's main greenlet. Returns 1 if work remains, 0 if
   nothing is left to run, or an error. */
GREEN_API int green_hub_run_slice(green_hub_t *hub, double seconds);

/* Keep the hub alive, as if a watcher were active: for work that a host
   thread will finish later. Hub thread only. */
GREEN_API void green_hub_ref(green_hub_t *hub);
GREEN_API void green_hub_unref(green_hub_t *hub);

/* Safe from any thread. Queue call->fn to run on the hub, in posting order
   per thread, and wake the loop. call must stay valid until fn runs. */
GREEN_API int green_hub_post(green_hub_t *hub, green_call_t *call);

/* Poll the loop at least this often while greenlets keep yielding.
   seconds must be > 0. */
GREEN_API int green_hub_set_switch_interval(green_hub_t *hub, double seconds);
GREEN_API double green_hub_switch_interval(green_hub_t *hub);

/* Fill *stats with counters; hub thread only. */
GREEN_API int green_hub_stats(green_hub_t *hub, green_hub_stats_t *stats);

/* Call fn(g, arg) for every spawned greenlet that is not dead, oldest
   first, until fn returns non-zero (which is then returned). fn must not
   spawn, kill or block. Hub thread only. */
GREEN_API int green_hub_foreach(green_hub_t *hub,
                                int (*fn)(green_t *g, void *arg), void *arg);


/* ---------------------------------------------------------------- greenlets */

/* Spawn a greenlet that runs fn(arg) once the greenlets already ready have
   run. opts may be NULL. With out non-NULL the caller gets a reference and
   must green_release() it; with NULL the greenlet is detached. Does not
   block; also allowed from libev callbacks on the hub. The greenlet gets
   its stack when it first runs; if none can be had then, it waits for one
   a finished greenlet gives back, or ends unstarted (green_result says
   why) when no greenlet holds one. */
GREEN_API int green_spawn(green_entry_t fn, void *arg,
                          const green_spawn_options_t *opts, green_t **out);

/* As green_spawn, but the greenlet becomes ready after `seconds`. */
GREEN_API int green_spawn_later(double seconds, green_entry_t fn, void *arg,
                                const green_spawn_options_t *opts,
                                green_t **out);

GREEN_API void green_retain(green_t *g);
GREEN_API void green_release(green_t *g);

/* The running greenlet (the hub's own greenlet inside libev callbacks), or
   NULL on a thread without a hub. No reference is added. */
GREEN_API green_t *green_current(void);

/* May block. Let every ready greenlet run, then continue (sleep 0). */
GREEN_API int green_yield(void);

/* May block. Sleep for `seconds` (>= 0; 0 is green_yield). Returns 0,
   GREEN_ECANCELED if killed, or an error. */
GREEN_API int green_sleep(double seconds);

/* May block. Wait until the hub is idle: no greenlet ready and no event
   pending (gevent's idle). Returns 0, GREEN_ECANCELED or an error. */
GREEN_API int green_idle(void);

enum { GREEN_READABLE = 1, GREEN_WRITABLE = 2 };

/* May block. Wait until fd is readable and/or writable (events, a mask of
   GREEN_READABLE and GREEN_WRITABLE). Returns the mask of ready events,
   GREEN_ETIMEDOUT, GREEN_ECANCELED, GREEN_EBADF or another error. */
GREEN_API int green_wait_fd(int fd, int events, double timeout);

/* May block. poll(2) for greenlets: wait until one of fds is ready, then
   fill in every revents as poll(2) does. Returns the count ready (never
   0), GREEN_ETIMEDOUT, GREEN_ECANCELED, GREEN_ENOMEM or another error. A
   negative fd is left out, as poll(2) does. */
GREEN_API int green_poll(struct pollfd *fds, nfds_t n, double timeout);

/* Wake every greenlet of this thread's hub that waits on fd (in
   green_wait_fd, green_poll and the calls built on them), each with
   GREEN_EBADF, and stop watching fd for them, so that the caller may close
   fd at once: the way to close a descriptor others may be waiting on.
   Returns how many woke, or GREEN_ESRCH without a hub. */
GREEN_API int green_cancel_fd(int fd);

/*
** Cooperative I/O on a non-blocking fd (O_NONBLOCK; a blocking fd blocks
** the thread). Each may block: it tries the system call first and waits
** on the hub only when the call says EAGAIN, for at most timeout seconds
** in all. Errors are GREEN_ETIMEDOUT, GREEN_ECANCELED (killed), or the
** system call's -errno.
*/
/* Read up to len bytes: the count read, 0 at end of file, or an error. */
GREEN_API ssize_t green_read(int fd, void *buf, size_t len, double timeout);
/* Write all len bytes: 0, or an error. *written (if not NULL) is set to
   the count that went out either way, so a write cut short by a timeout
   or a kill can be resumed. A socket's peer gone gives -EPIPE, never
   SIGPIPE. */
GREEN_API int green_write(int fd, const void *buf, size_t len,
                          double timeout, size_t *written);
/* Accept a connection: its fd (non-blocking, close-on-exec), or an error.
   addr and addrlen as for accept(2), or NULL. */
GREEN_API int green_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                           double timeout);
/* Connect fd to addr: 0, or an error (-ECONNREFUSED...). After a timeout
   or a kill the connection may still be in progress: close fd. */
GREEN_API int green_connect(int fd, const struct sockaddr *addr,
                            socklen_t addrlen, double timeout);

/* May block. getaddrinfo(3) on a worker thread, so that a slow name
   server stops only the caller: 0 and *res (free it with freeaddrinfo),
   GREEN_ETIMEDOUT or GREEN_ECANCELED (the lookup then finishes on its
   thread, which frees it), GREEN_ENOMEM, or GREEN_ENODATA with *gai_error
   (if not NULL) set to getaddrinfo's EAI_* code. A numeric address (or no
   host) with a numeric port (or none) is answered at once, on the calling
   thread. */
struct addrinfo;
GREEN_API int green_getaddrinfo(const char *host, const char *service,
                                const struct addrinfo *hints,
                                struct addrinfo **res, double timeout,
                                int *gai_error);
/* May block. getnameinfo(3) the same way: 0 with the names in host and
   service (either may be NULL, not both), or the errors above. With
   NI_NUMERICHOST (or no host) and NI_NUMERICSERV (or no service) it is
   answered at once, on the calling thread. */
GREEN_API int green_getnameinfo(const struct sockaddr *addr,
                                socklen_t addrlen, char *host, size_t hostlen,
                                char *service, size_t servicelen, int flags,
                                double timeout, int *gai_error);

/* May block. Wait until g is dead. Returns 0, GREEN_ETIMEDOUT,
   GREEN_ECANCELED (the caller was killed), GREEN_EDEADLK (joining
   itself, or nothing can ever finish g). */
GREEN_API int green_join(green_t *g, double timeout);

/* Kill g; does not block. A greenlet that has not started never runs. A
   blocked one wakes with GREEN_ECANCELED from its blocking call; a ready or
   running one (the caller itself too) gets GREEN_ECANCELED from its next
   blocking call. Killing a dead greenlet does nothing. Either way the entry
   function is expected to return promptly. */
GREEN_API int green_kill(green_t *g);

/* g must be a greenlet the caller holds a reference to (not NULL). */
GREEN_API green_state_t green_state(const green_t *g);

/* Withdraw a kill not yet delivered: one made while g was ready or running
   (a blocked greenlet is woken at once and cannot be called back). Returns
   1 if a kill was withdrawn, 0 if none was pending. Does not block. */
GREEN_API int green_cancel_kill(green_t *g);

/* Whether a kill was made that g has not met yet: g is ready to raise it,
   or will at its next blocking call. */
GREEN_API int green_kill_pending(const green_t *g);

/* The entry function's result: 0 and *result set once g returned;
   GREEN_ECANCELED if it was killed before it started; GREEN_ENOSPC or
   GREEN_ENOMEM if it ended unstarted for want of a stack; GREEN_EAGAIN
   while it has not finished. */
GREEN_API int green_result(const green_t *g, void **result);

/* A greenlet's name, or NULL if it has none. */
GREEN_API const char *green_name(const green_t *g);
/* Copy name into g (NULL clears it). */
GREEN_API int green_set_name(green_t *g, const char *name);
/* A number unique within the process, starting at 1; a hub's greenlets
   get rising ids. */
GREEN_API uint64_t green_id(const green_t *g);

/* One pointer a host keeps per greenlet; NULL until set. Works on the main
   and hub greenlets too. */
GREEN_API void green_set_data(green_t *g, void *data);
GREEN_API void *green_data(const green_t *g);
/* One more, for a language binding (the Lua module keeps its record of a
   greenlet here), so that a host embedding one keeps green_set_data. */
GREEN_API void green_set_binding_data(green_t *g, void *data);
GREEN_API void *green_binding_data(const green_t *g);


/* ---------------------------------------------------------------- clock */

/* The hub's clock in seconds (libev's, refreshed): what timeouts count
   against. On a thread without a hub, the same clock read afresh. */
GREEN_API double green_now(void);


/* ---------------------------------------------------------------- events */

typedef struct green_event green_event_t;   /* opaque */

/* A flag greenlets wait on, as gevent's Event: set() wakes every waiter, in
   the order they began to wait. Belongs to the calling thread's hub. */
GREEN_API int green_event_new(green_event_t **event);
/* Returns 0, or GREEN_EBUSY (freeing nothing) while a greenlet waits on
   it, as happens when a Lua state closes with greenlets still blocked. */
GREEN_API int green_event_free(green_event_t *event);
GREEN_API void green_event_set(green_event_t *event);
GREEN_API void green_event_clear(green_event_t *event);
GREEN_API int green_event_is_set(const green_event_t *event);
/* May block. Return 0 once set (at once if it is), GREEN_ETIMEDOUT,
   GREEN_ECANCELED or another error. */
GREEN_API int green_event_wait(green_event_t *event, double timeout);

/* ---------------------------------------------------------------- wait queues */

/*
** The primitive the coordination types are built on, for hosts and bindings
** that build their own: greenlets wait in FIFO order until a waker hands the
** first of them a value. A waiter that timed out or was killed is skipped, so
** what a wake hands over is never lost: it reaches a greenlet whose wait
** returns 0, even if that greenlet is killed before it runs again (the kill
** then interrupts its next blocking call). Belongs to the calling thread's
** hub; the waking calls work from libev callbacks on the hub too.
*/
typedef struct green_waitq green_waitq_t;   /* opaque */

GREEN_API int green_waitq_new(green_waitq_t **waitq);
/* Returns 0, or GREEN_EBUSY (freeing nothing) while a greenlet waits. */
GREEN_API int green_waitq_free(green_waitq_t *waitq);
/* May block. Wait to be woken. `self` is shown to the waker (where it may
   deliver, what it may take). Returns 0 with *value set by the waker (value
   may be NULL), GREEN_ETIMEDOUT, GREEN_ECANCELED, the status given to
   green_waitq_wake_all, or another error. */
GREEN_API int green_waitq_wait(green_waitq_t *waitq, double timeout,
                               void *self, void **value);
/* Wake the longest waiting greenlet with value. Returns 1 and that waiter's
   self in *self (if self is not NULL), or 0 if none waits. */
GREEN_API int green_waitq_wake_one(green_waitq_t *waitq, void *value,
                                   void **self);
/* Wake every waiter; each wait returns status (0 or a negative GREEN_E*). */
GREEN_API void green_waitq_wake_all(green_waitq_t *waitq, int status);
/* Whether a greenlet waits and could be woken: 1 with the longest waiting
   one's self in *self (if self is not NULL), else 0. Wakes nobody. */
GREEN_API int green_waitq_peek(const green_waitq_t *waitq, void **self);


/* ---------------------------------------------------------------- semaphores */

typedef struct green_semaphore green_semaphore_t;   /* opaque */

/* A counter of permits, as gevent's Semaphore. With bound > 0 it is a
   BoundedSemaphore: value may never exceed bound. Waiters get permits in
   the order they began to wait; a release hands its permit straight to the
   first waiter, so a later acquirer cannot overtake it. Belongs to the
   calling thread's hub. */
GREEN_API int green_semaphore_new(unsigned value, unsigned bound,
                                  green_semaphore_t **sem);
/* Returns 0, or GREEN_EBUSY (freeing nothing) while a greenlet waits. */
GREEN_API int green_semaphore_free(green_semaphore_t *sem);
/* May block, unless timeout is 0. Take a permit. Returns 0, GREEN_EAGAIN
   (timeout 0 and none free), GREEN_ETIMEDOUT, GREEN_ECANCELED or another
   error; a failed acquire takes nothing. */
GREEN_API int green_semaphore_acquire(green_semaphore_t *sem, double timeout);
/* Give a permit back (to the first waiter if one waits). Returns 0, or
   GREEN_EOVERFLOW if a bounded semaphore is already full (nothing changes).
   Works from libev callbacks on the hub too. */
GREEN_API int green_semaphore_release(green_semaphore_t *sem);
/* Permits free now. */
GREEN_API unsigned green_semaphore_value(const green_semaphore_t *sem);


/* ---------------------------------------------------------------- channels */

typedef struct green_channel green_channel_t;   /* opaque */

/* A FIFO of pointers between greenlets, as Go's channels. capacity 0 makes
   a rendezvous: a send waits for a receiver. Items go to receivers in the
   order they began to wait, and senders' items are taken in the order the
   senders began to wait. An item is never lost or delivered twice: a send
   that fails added nothing, a receive that fails took nothing. NULL is an
   item like any other. Belongs to the calling thread's hub. */
GREEN_API int green_channel_new(size_t capacity, green_channel_t **chan);
/* Returns 0, or GREEN_EBUSY (freeing nothing) while a greenlet waits.
   Items still buffered are dropped. */
GREEN_API int green_channel_free(green_channel_t *chan);
/* May block, unless timeout is 0. Returns 0 once item is taken by a
   receiver or buffered, GREEN_EAGAIN (timeout 0, it would wait),
   GREEN_EPIPE (closed, before or while waiting), GREEN_ETIMEDOUT,
   GREEN_ECANCELED or another error. */
GREEN_API int green_channel_send(green_channel_t *chan, void *item,
                                 double timeout);
/* May block, unless timeout is 0. Returns 0 with *item set; GREEN_EPIPE
   once the channel is closed and empty; GREEN_EAGAIN, GREEN_ETIMEDOUT,
   GREEN_ECANCELED or another error. */
GREEN_API int green_channel_recv(green_channel_t *chan, void **item,
                                 double timeout);
/* Refuse further sends; wake every waiting sender and receiver with
   GREEN_EPIPE. Buffered items can still be received. */
GREEN_API void green_channel_close(green_channel_t *chan);
GREEN_API int green_channel_is_closed(const green_channel_t *chan);
/* Items buffered now (always 0 for a rendezvous channel). */
GREEN_API size_t green_channel_count(const green_channel_t *chan);
GREEN_API size_t green_channel_capacity(const green_channel_t *chan);


/* ---------------------------------------------------------------- deferred calls */

/*
** A queue of calls that one greenlet runs at points it chooses, so that the
** state those calls touch is only ever touched there (gevent_async's
** DeferredCallHandler). Greenlets of the hub post calls one-way or call
** synchronously (waiting until the call has run); any other OS thread may
** post one-way, which wakes the hub through green_hub_post(). Calls run in
** the order they arrived, each thread's in the order it posted them.
** Belongs to the calling thread's hub.
**
** A processing greenlet that waits for calls only other threads will post
** needs the hub held with green_hub_ref() meanwhile: otherwise nothing in
** the hub could ever wake it, and its wait fails with GREEN_EDEADLK.
*/
typedef struct green_deferred green_deferred_t;   /* opaque */
typedef struct green_deferred_call green_deferred_call_t;

/* The caller owns a call and keeps it valid until it has run (or was
   withdrawn); it may be reused afterwards. Set fn (and detach); the rest is
   private. */
struct green_deferred_call {
  void (*fn)(green_deferred_call_t *call);  /* runs on the processing greenlet */
  int detach;   /* sync calls: see green_deferred_call() */
  /* private */
  green_call_t post_;
  green_deferred_call_t *prev_, *next_;
  green_deferred_t *owner_;
  void *waiters_;
  int state_;
};

typedef struct {
  int forever;    /* wait for more calls until green_deferred_stop() */
  /* Run only the calls accept() returns non-zero for (NULL: all); the
     others keep their place in the queue for a later process call. */
  int (*accept)(const green_deferred_call_t *call, void *arg);
  void *accept_arg;
} green_deferred_options_t;

GREEN_API int green_deferred_new(green_deferred_t **deferred);
/* Returns 0, or GREEN_EBUSY (freeing nothing) while a greenlet processes
   it or waits on a call, or while posts from other threads are on their
   way. One-way calls still queued are dropped without running. */
GREEN_API int green_deferred_free(green_deferred_t *deferred);
/* Queue a one-way call; does not block. Safe from any thread. Returns 0 or
   GREEN_EINVAL. */
GREEN_API int green_deferred_post(green_deferred_t *deferred,
                                  green_deferred_call_t *call);
/* May block. Queue call and wait until fn(call) has returned: 0. If the
   wait ends first (GREEN_ETIMEDOUT, or GREEN_ECANCELED: the caller was
   killed) before fn started, the call is withdrawn and never runs. If fn
   is running by then: with call->detach zero, the caller waits on for fn
   to return, because fn may use the caller's memory, and gets 0 (a kill
   then interrupts its next blocking call); with detach non-zero, the error
   is returned at once and fn runs on alone, so call and what it points to
   must outlive the caller. GREEN_EDEADLK (withdrawn too) if called from
   the greenlet processing this queue, or if nothing could ever process it. */
GREEN_API int green_deferred_call(green_deferred_t *deferred,
                                  green_deferred_call_t *call,
                                  double timeout);
/* May block. Run queued calls on the calling greenlet, in arrival order,
   until none (that opts->accept takes) is left, or with opts->forever
   until green_deferred_stop(). opts may be NULL. Returns the number of
   calls run (at most INT_MAX), GREEN_EBUSY if a greenlet (this one too,
   from inside a call) is processing already, GREEN_ECANCELED if killed
   while waiting for calls, or another error. */
GREEN_API int green_deferred_process(green_deferred_t *deferred,
                                     const green_deferred_options_t *opts);
/* End the running green_deferred_process once its current call returns;
   if none runs, the next one returns before running anything. Works from
   libev callbacks on the hub too. */
GREEN_API void green_deferred_stop(green_deferred_t *deferred);
/* The greenlet processing now, or NULL. No reference is added. */
GREEN_API green_t *green_deferred_processor(const green_deferred_t *deferred);
/* Calls queued and not yet started. Hub thread only. */
GREEN_API size_t green_deferred_pending(const green_deferred_t *deferred);


/* ---------------------------------------------------------------- thread pools */

/*
** Threads that run C functions for greenlets, as libuv's uv_queue_work,
** except that the submitting greenlet simply blocks until its function has
** run; the loop and every other greenlet keep going. Workers sleep on a
** condition variable; a finished task wakes its greenlet's hub through
** green_hub_post(), so the completions that arrive together are run in one
** wake. A pool belongs to no hub: greenlets of any thread may submit.
** Functions running on a worker have no hub: green's blocking calls return
** GREEN_ESRCH there.
*/
typedef struct green_threadpool green_threadpool_t;   /* opaque */
typedef struct green_work green_work_t;

/* The caller owns a task and keeps it valid until green_threadpool_run
   returns (with abandon set, see there). Set fn (and abandon); the rest
   is private. */
struct green_work {
  void (*fn)(green_work_t *work);        /* runs on a worker thread */
  void (*abandon)(green_work_t *work);   /* optional, see below */
  /* private */
  green_call_t done_;
  green_work_t *next_;
  green_hub_t *hub_;
  void *waiters_;
  int state_;
};

/* Start `threads` workers (0: one per online CPU). 1 makes the
   single-thread pool. */
GREEN_API int green_threadpool_new(unsigned threads,
                                   green_threadpool_t **pool);
/* Stop the workers once the running tasks end, and join them (this blocks
   the calling thread). Returns GREEN_EBUSY (freeing nothing) while a task
   is queued. */
GREEN_API int green_threadpool_free(green_threadpool_t *pool);
/* May block. The same as a greenlet: wait for the running tasks to end
   while other greenlets run, then free the pool. GREEN_EBUSY as above. A
   kill during the wait interrupts the caller's next blocking call. */
GREEN_API int green_threadpool_close(green_threadpool_t *pool);
GREEN_API unsigned green_threadpool_threads(const green_threadpool_t *pool);
/* May block. Run fn(work) on a worker and wait until it has returned: 0.
   The wait may end first (GREEN_ETIMEDOUT, or GREEN_ECANCELED: the caller
   was killed). A task no worker took yet is then withdrawn and never runs.
   One already running: with abandon NULL, the caller waits on until fn
   returns (fn may use the caller's memory) and gets 0, a kill then
   interrupting its next blocking call. With abandon set, every failed
   return hands the task to abandon(work), which frees it: at once for a
   withdrawn task, else on the worker thread once fn has returned; the
   caller must not touch the task after such a return. */
GREEN_API int green_threadpool_run(green_threadpool_t *pool,
                                   green_work_t *work, double timeout);

#ifdef __cplusplus
}
#endif

#endif /* GREEN_H */
