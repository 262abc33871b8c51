/* A child made without fork handlers (_Fork, as async-signal-safe code
 * uses; a raw fork, clone without CLONE_VM) frees 200 MB of large blocks and
 * idles: its memory must go back within a few purge delays (default 500 ms),
 * as a fork child's does. Taken for a vfork child (its pid is not the one
 * recorded), it never got a purger and kept 104 MB for good (break-it
 * helper, thirteenth session, 5 of 5), paying a getpid at each free.
 * Prints "dropin_raw_fork ok". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern pid_t _Fork(void);

static long rss_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int child(void) {
  void* v[20];
  for (int i = 0; i < 20; ++i) {
    v[i] = malloc((size_t)10 << 20);
    if (!v[i]) return 2;
    memset(v[i], i, (size_t)10 << 20);
  }
  for (int i = 0; i < 20; ++i) free(v[i]);
  const long after_free = rss_kib();
  long now = after_free;
  for (int t = 0; t < 60 && now > 40 * 1024; ++t) {  /* up to 3 s */
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    now = rss_kib();
  }
  if (now > 40 * 1024) {
    printf("child: RSS %ld KiB after the frees, still %ld KiB 3 s later\n", after_free, now);
    return 1;
  }
  return 0;
}

int main(void) {
  free(malloc(100));  /* the parent's first malloc */
  pid_t pid = _Fork();
  if (pid < 0) return 3;
  if (pid == 0) _exit(child());
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  printf("dropin_raw_fork ok\n");
  return 0;
}
