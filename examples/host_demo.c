/*
** host_demo.c: a C host using green. Greenlets sleep, talk through a pipe,
** get killed and joined; then the host drives the hub one slice per frame,
** as a game loop would.
*/

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <green.h>

static int pipefd[2];

static void *ticker(void *arg) {
  int i;
  for (i = 1; i <= 3; i++) {
    if (green_sleep(0.02) != 0) break;
    printf("  [%s] tick %d\n", green_name(green_current()), i);
  }
  return arg;
}

static void *reader(void *arg) {
  char line[64];
  ssize_t n;
  (void)arg;
  for (;;) {
    int ready = green_wait_fd(pipefd[0], GREEN_READABLE, 1.0);
    if (ready < 0) {
      printf("  [reader] stops: %s\n", green_strerror(ready));
      return NULL;
    }
    n = read(pipefd[0], line, sizeof line - 1);
    if (n <= 0) return NULL;                     /* writer closed the pipe */
    line[n] = '\0';
    printf("  [reader] got: %s", line);
  }
}

static void *writer(void *arg) {
  const char *lines[] = {"hello\n", "from another greenlet\n"};
  int i;
  (void)arg;
  for (i = 0; i < 2; i++) {
    green_sleep(0.01);
    if (write(pipefd[1], lines[i], strlen(lines[i])) < 0) return NULL;
  }
  close(pipefd[1]);
  return NULL;
}

static void *sleeper(void *arg) {
  int rc = green_sleep(60);
  printf("  [sleeper] woke up: %s\n", green_strerror(rc));
  return arg;
}

static int frames;
static void *per_frame_work(void *arg) {
  while (green_sleep(0.016) == 0) frames++;
  return arg;
}

int main(void) {
  green_spawn_options_t named = {"ticker", 0};
  green_hub_t *hub;
  green_t *doomed, *background;
  int rc, frame;

  if ((rc = green_hub_new(NULL, &hub)) < 0) {
    fprintf(stderr, "green_hub_new: %s\n", green_strerror(rc));
    return 1;
  }
  if (pipe(pipefd) != 0) return 1;

  printf("greenlets sleeping, talking through a pipe, and one killed:\n");
  green_spawn(ticker, NULL, &named, NULL);
  green_spawn(reader, NULL, NULL, NULL);
  green_spawn(writer, NULL, NULL, NULL);
  green_spawn(sleeper, NULL, NULL, &doomed);
  green_sleep(0.03);                   /* the main greenlet blocks too */
  green_kill(doomed);
  green_join(doomed, GREEN_FOREVER);
  green_release(doomed);
  green_hub_run(hub);                  /* until nothing is left */
  close(pipefd[0]);

  printf("a host frame loop, one 16 ms slice per frame:\n");
  green_spawn(per_frame_work, NULL, NULL, &background);
  for (frame = 1; frame <= 5; frame++) {
    green_hub_run_slice(hub, 0.016);   /* greenlets and I/O, then back */
    printf("  frame %d rendered; greenlet ticks so far: %d\n", frame, frames);
  }
  green_kill(background);
  green_join(background, GREEN_FOREVER);
  green_release(background);
  green_hub_free(hub);
  printf("done\n");
  return 0;
}
