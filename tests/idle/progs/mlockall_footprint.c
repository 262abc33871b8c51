// mlockall(MCL_CURRENT | MCL_FUTURE) locks, and so fills, every accessible
// page the process maps. The page heap's side arrays (page tags and run
// records for the whole 256 GiB reservation: 4.5 GiB of address space) were
// mapped readable and writable from the start: one malloc(64) after
// mlockall made 4.7 GB resident (a break-it helper's program). What is
// locked must follow what the heap uses.
// Modes:
//   before - mlockall, then the first allocations (in threads too)
//   after  - the first allocations, then mlockall (MCL_CURRENT fills what
//            is mapped then), then more
// Fails when more than 128 MiB is resident at the end (glibc: 31 MiB).
// VmLck is printed, not judged: it counts the reservation's inaccessible
// address space, which is never filled.
// Exit 77 (skipped) where the process may not lock memory.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long status_kib(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, n)) v = atol(line + n);
  fclose(f);
  return v;
}

static void* work(void* arg) {
  enum { N = 20000 };
  static __thread void* v[N];
  for (int i = 0; i < N; i++) memset(v[i] = malloc(16 + i % 2000), 1, 16);
  for (int i = 0; i < N; i++) free(v[i]);
  void* big = malloc(8u << 20);  // a page span
  memset(big, 2, 8u << 20);
  free(big);
  return arg;
}

static int lock_all(void) {
  if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) return 0;
  printf("mlockall: %s: skipped\n", strerror(errno));
  return 77;
}

int main(int argc, char** argv) {
  const int before = argc > 1 && strcmp(argv[1], "before") == 0;
  if (before && lock_all()) return 77;
  work(NULL);
  if (!before && lock_all()) return 77;
  for (int k = 0; k < 4; k++) {
    pthread_t t;
    if (pthread_create(&t, NULL, work, NULL) == 0) pthread_join(t, NULL);
  }
  work(NULL);
  long lck = status_kib("VmLck:"), rss = status_kib("VmRSS:");
  printf("%s: VmLck %ld KiB, VmRSS %ld KiB\n", before ? "before" : "after", lck, rss);
  return rss > (128L << 10);
}
