/*
** bench.h: timing helpers shared by the benchmarks. Each benchmark repeats
** its measurement and reports the median, next to a baseline measured the
** same way in the same run.
*/

#ifndef BENCH_H
#define BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_REPEATS 7

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of BENCH_REPEATS runs of fn(n), in nanoseconds per unit of n. */
static inline double bench_median_ns(void (*fn)(long), long n) {
  double runs[BENCH_REPEATS];
  int i;
  fn(n / 10);                                   /* warm up */
  for (i = 0; i < BENCH_REPEATS; i++) {
    double start = bench_now();
    fn(n);
    runs[i] = (bench_now() - start) * 1e9 / (double)n;
  }
  qsort(runs, BENCH_REPEATS, sizeof runs[0], bench_cmp);
  return runs[BENCH_REPEATS / 2];
}

#endif
