/*
** stack.c: greenlet stacks, their guard pages and canaries, and the pool
** that reuses them.
**
** Stacks are mmap'd without reserving swap, so only touched pages cost
** memory. Up to guarded_max stacks get their own PROT_NONE guard page: an
** overflow faults at once and overflow.c names the greenlet. Each such stack
** is two kernel mappings, and Linux allows 65530 per process by default
** (vm.max_map_count), so past that number stacks come from arenas: one
** mapping of GREEN__ARENA_SLOTS stacks. Each slot starts with a page of its
** own, made a guard region where the kernel has them (MADV_GUARD_INSTALL,
** Linux 6.13): a guard page that splits no mapping, so an arena overflow
** faults at once too. Below each slot's guard page lie the canary words of
** the slot beneath; an overflow that writes them (one that jumped a guard
** page, or any on an older kernel, where the page is plain memory) is
** reported at the greenlet's next switch, which is later and less certain.
**
** Layout of one stack, low to high addresses:
**   guarded:  [guard page][usable ... ][green__stack]
**   in arena: [guard page][usable ... ][green__stack][canary]
** The bookkeeping header sits at the top, so pooling needs no allocation.
*/

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifdef GREEN_ASAN
#  include <sanitizer/asan_interface.h>
#endif

#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#    define GREEN_VALGRIND 1
#  endif
#endif

#define CANARY_BYTES (GREEN__CANARY_WORDS * sizeof(uint64_t))

/* Hubs on several threads may ask at once: every one finds the same. */
static size_t page_size(void) {
  static _Atomic size_t size;
  size_t known = atomic_load_explicit(&size, memory_order_relaxed);
  if (known == 0) {
    known = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store_explicit(&size, known, memory_order_relaxed);
  }
  return known;
}

static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

/* Place the header at the top of [lo, top) and describe the stack. */
static green__stack *header_at(char *lo, char *top) {
  uintptr_t at = ((uintptr_t)top - sizeof(green__stack)) & ~(uintptr_t)15;
  green__stack *s = (green__stack *)at;
  memset(s, 0, sizeof *s);
  s->lo = lo;
  s->guard_lo = lo;
  s->size = (size_t)((char *)s - lo);
#ifdef GREEN_VALGRIND
  s->valgrind_id = VALGRIND_STACK_REGISTER(lo, (char *)s);
#endif
  return s;
}

static void forget(green__stack *s) {
#ifdef GREEN_VALGRIND
  VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
  (void)s;
}

/*
** The kernel's mapping limit (vm.max_map_count) is the process's, and malloc
** needs mappings too: had stacks taken the last ones, the process could not
** even allocate what it needs to end its greenlets. So the stacks of every
** hub may hold the limit less MAPPINGS_KEPT for the rest of the process;
** past that, acquiring a stack fails with GREEN_ENOSPC (and the greenlet
** waits for one, greenlet.c). Each mapping with a guard
** page is two kernel mappings. A test sets green__stack_mapping_budget.
*/
#define MAPPINGS_KEPT 4096
#define MAPPINGS_PER_MAP 2

long green__stack_mapping_budget;       /* 0 until first needed */
static _Atomic long stack_mappings;
static pthread_once_t budget_once = PTHREAD_ONCE_INIT;

static void read_budget(void) {
  long limit = 65530;                   /* Linux's default */
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld", &limit) != 1) limit = 65530;
    fclose(f);
  }
  if (green__stack_mapping_budget == 0)
    green__stack_mapping_budget = limit > 2 * MAPPINGS_KEPT
                                  ? limit - MAPPINGS_KEPT : limit / 2;
}

static int take_mappings(void) {
  pthread_once(&budget_once, read_budget);
  if (atomic_fetch_add(&stack_mappings, MAPPINGS_PER_MAP) + MAPPINGS_PER_MAP >
      green__stack_mapping_budget) {
    atomic_fetch_sub(&stack_mappings, MAPPINGS_PER_MAP);
    return GREEN_ENOSPC;
  }
  return 0;
}

static void unmap(void *map, size_t bytes) {
  munmap(map, bytes);
  atomic_fetch_sub(&stack_mappings, MAPPINGS_PER_MAP);
}

/* Map bytes with a PROT_NONE page at the bottom into *out. */
static int map_with_guard(green_hub_t *hub, size_t bytes, char **out) {
  char *map;
  int rc = take_mappings();
  if (rc < 0) return rc;
  map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) {
    atomic_fetch_sub(&stack_mappings, MAPPINGS_PER_MAP);
    return GREEN_ENOMEM;
  }
  if (mprotect(map, page_size(), PROT_NONE) != 0) {   /* ENOMEM at the */
    unmap(map, bytes);                                 /* mapping limit  */
    return GREEN_ENOMEM;
  }
  hub->stats.stack_maps++;
  *out = map;
  return 0;
}


/* ---------------------------------------------------------------- guarded */

static int map_guarded(green_hub_t *hub, size_t size, green__stack **out) {
  size_t bytes = page_size() + round_up(size + sizeof(green__stack), page_size());
  char *map;
  green__stack *s;
  int rc = map_with_guard(hub, bytes, &map);
  if (rc < 0) return rc;
  s = header_at(map + page_size(), map + bytes);
  s->guard_lo = map;
  s->map = map;
  s->map_size = bytes;
  s->is_default = size == hub->stack_size;
  hub->guarded_mapped++;
  *out = s;
  return 0;
}

static void unmap_guarded(green_hub_t *hub, green__stack *s) {
  forget(s);
  unmap(s->map, s->map_size);
  hub->guarded_mapped--;
}


/* ---------------------------------------------------------------- arenas */

static void pool_push(green_hub_t *hub, green__stack *s);

#ifndef MADV_GUARD_INSTALL
#  define MADV_GUARD_INSTALL 102
#endif

/* 1 once the kernel made a guard region, 0 once it refused one (before
   Linux 6.13), -1 until the first try. A test sets 0 to take the path of
   older kernels. */
_Atomic int green__guard_regions = -1;

/* Make the page at `page`, inside an arena, a guard page; 0 if the kernel
   has no guard regions. */
static int install_guard(char *page) {
  if (atomic_load_explicit(&green__guard_regions, memory_order_relaxed) == 0)
    return 0;
  if (madvise(page, page_size(), MADV_GUARD_INSTALL) == 0) {
    atomic_store_explicit(&green__guard_regions, 1, memory_order_relaxed);
    return 1;
  }
  if (errno == EINVAL)
    atomic_store_explicit(&green__guard_regions, 0, memory_order_relaxed);
  return 0;
}

/* Map an arena, give each slot its guard page, write every canary, pool
   all slots but the first. A slot, low to high:
     [guard page][usable ...][header][canary] */
static int map_arena(green_hub_t *hub, green__stack **out) {
  size_t slot = page_size() +
                round_up(hub->stack_size + sizeof(green__stack) + CANARY_BYTES,
                         page_size());
  size_t bytes = page_size() + slot * GREEN__ARENA_SLOTS;
  green__arena *arena = malloc(sizeof *arena);
  char *map, *base;
  int k, rc;
  if (arena == NULL) return GREEN_ENOMEM;
  if ((rc = map_with_guard(hub, bytes, &map)) < 0) {
    free(arena);
    return rc;
  }
  arena->map = map;
  arena->map_size = bytes;
  arena->pooled = 0;
  green__list_unshift(&hub->arenas, &arena->link);
  base = map + page_size();
  for (k = 0; k < GREEN__ARENA_SLOTS; k++) {
    char *guard = base + (size_t)k * slot, *top = guard + slot;
    int guarded = install_guard(guard);
    green__stack *s;
    memcpy(top - CANARY_BYTES, hub->canary, CANARY_BYTES);
    s = header_at(guard + page_size(), top - CANARY_BYTES);
    s->arena = arena;
    s->is_default = 1;
    if (k == 0) {
      s->guard_lo = map;        /* the arena's own guard page below */
    } else {
      s->canary = (const uint64_t *)(void *)(guard - CANARY_BYTES);
      if (guarded) s->guard_lo = guard;
    }
    arena->slots[k] = s;
  }
  hub->arena_slots += GREEN__ARENA_SLOTS;
  for (k = GREEN__ARENA_SLOTS - 1; k > 0; k--) pool_push(hub, arena->slots[k]);
  *out = arena->slots[0];
  return 0;
}


/* ---------------------------------------------------------------- pool */

/*
** The pool keeps stack_pool_max free stacks of the default size; what lies
** beyond is given back. A guarded stack beyond it is unmapped. An arena
** slot cannot be unmapped alone: beyond the limit its pages below the one
** that holds its header go back to the kernel (MADV_DONTNEED keeps the
** mapping and any guard region), and an arena whose every slot is free
** then is unmapped whole.
*/
static void unmap_arena(green_hub_t *hub, green__arena *arena) {
  int k;
  for (k = 0; k < GREEN__ARENA_SLOTS; k++) {
    green__list_remove(&arena->slots[k]->free_link);
    forget(arena->slots[k]);
  }
  hub->free_stack_count -= GREEN__ARENA_SLOTS;
  hub->arena_slots -= GREEN__ARENA_SLOTS;
  green__list_remove(&arena->link);
  unmap(arena->map, arena->map_size);
  free(arena);
}

/* Give back the pages of a pooled arena slot below its header's page. */
static void give_back_pages(green__stack *s) {
  uintptr_t header_page = (uintptr_t)s & ~(uintptr_t)(page_size() - 1);
  if (header_page > (uintptr_t)s->lo)
    madvise(s->lo, header_page - (uintptr_t)s->lo, MADV_DONTNEED);
}

static void pool_push(green_hub_t *hub, green__stack *s) {
  green__list_unshift(&hub->free_stacks, &s->free_link);
  hub->free_stack_count++;
  if (s->arena != NULL) s->arena->pooled++;
}

static green__stack *pool_pop(green_hub_t *hub) {
  green__node *node = green__list_shift(&hub->free_stacks);
  green__stack *s;
  if (node == NULL) return NULL;
  s = green__container(node, green__stack, free_link);
  hub->free_stack_count--;
  if (s->arena != NULL) s->arena->pooled--;
  return s;
}

/* Pick the hub's canary: random, so that no stack data matches it by
   accident. */
void green__stack_pool_init(green_hub_t *hub) {
  green__list_init(&hub->free_stacks);
  green__list_init(&hub->arenas);
  if (getrandom(hub->canary, CANARY_BYTES, GRND_NONBLOCK) !=
      (ssize_t)CANARY_BYTES) {
    hub->canary[0] = (uint64_t)(uintptr_t)hub * 0x9E3779B97F4A7C15u;
    hub->canary[1] = (uint64_t)time(NULL) ^ 0xC2B2AE3D27D4EB4Fu;
  }
}

int green__stack_acquire(green_hub_t *hub, size_t size, green__stack **out) {
  int is_default = size == hub->stack_size;
  green__stack *s;
  if (is_default && (s = pool_pop(hub)) != NULL) {
    hub->stats.stacks_reused++;
#ifdef GREEN_ASAN
    /* Frames of the previous owner never returned: clear their poison. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
#endif
    *out = s;
    return 0;
  }
  if (is_default && hub->guarded_mapped >= hub->guarded_max)
    return map_arena(hub, out);
  return map_guarded(hub, size, out);
}

void green__stack_release(green_hub_t *hub, green__stack *s) {
  int beyond = hub->free_stack_count >= hub->stack_pool_max;
  if (s->arena != NULL) {
    if (beyond) give_back_pages(s);
    pool_push(hub, s);
    if (beyond && s->arena->pooled == GREEN__ARENA_SLOTS)
      unmap_arena(hub, s->arena);
  } else if (s->is_default && !beyond) {
    pool_push(hub, s);
  } else {
    unmap_guarded(hub, s);
  }
}

/* Unmap every pooled stack and every arena; no stack may be in use. */
void green__stack_pool_free(green_hub_t *hub) {
  green__stack *s;
  green__node *node;
  while ((s = pool_pop(hub)) != NULL)
    if (s->arena == NULL) unmap_guarded(hub, s);
  while ((node = green__list_shift(&hub->arenas)) != NULL) {
    green__arena *arena = green__container(node, green__arena, link);
    int k;
    for (k = 0; k < GREEN__ARENA_SLOTS; k++) forget(arena->slots[k]);
    unmap(arena->map, arena->map_size);
    hub->arena_slots -= GREEN__ARENA_SLOTS;
    free(arena);
  }
}
