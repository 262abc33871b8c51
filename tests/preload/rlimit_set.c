// RLIMIT_AS and the program's own address space (break-it helper, twelfth
// session). Modes:
//   set  after its first malloc the program sets a 256 MiB limit itself
//        (setrlimit, as python's resource.setrlimit): 1 MiB blocks until
//        malloc fails, freed, then a 16 MiB mmap and a thread must fit. The
//        256 GiB reserved at the first malloc counted against the limit: no
//        mmap, no thread, and malloc went on to 1 GiB past the limit.
//   raw  the same through the raw prlimit64 system call (as a limit set from
//        outside the process): seen at the heap's next growth.
//   trim (run under `ulimit -v 400000`) 350 MiB of 4 000-byte blocks, all
//        freed, malloc_trim(0): then 8 threads and a 32 MiB mmap must fit (1
//        thread started, the mmap failed: free spans in the heap's middle
//        kept their address space).
//   fast (run under `ulimit -v 400000`) 300 MiB of 4 000-byte blocks, all
//        freed, then malloc and free of 64 B for a second (fast paths only,
//        no trim): 8 threads and a 100 MiB mmap must fit. The decay never
//        ran (no later slow path, no purger in a single-threaded program):
//        the mmap failed.
//   tiny (run under `ulimit -v 10000`) 1000 mallocs of 64 B and one of
//        1 MiB (all failed: the reservation's floor was 16 MiB).
//   tid  `set` with the limit set by another thread, through prlimit with
//        its thread id (the limit is the process's; it was not seen).
//   busy `set` (768 MiB) while 4 threads malloc and free 3 MiB blocks (the
//        heap was busy at the setrlimit: not seen, 9 of 40 runs).
// Prints what it got; built without hakozuna, run with and without it.
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)

static void* nothing(void* a) { return a; }

static int threads(int n) {
  pthread_t t[8];
  int ok = 0;
  for (int i = 0; i < n && i < 8; ++i) {
    if (pthread_create(&t[i], NULL, nothing, NULL)) break;
    ++ok;
  }
  for (int i = 0; i < ok; ++i) pthread_join(t[i], NULL);
  return ok;
}

static const char* maps(size_t bytes) {
  void* m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return "FAILED";
  memset(m, 1, bytes);
  munmap(m, bytes);
  return "ok";
}

static void* held[100000];

static struct rlimit g_rl = {256 * MiB, 256 * MiB};
static void* limit_by_tid(void* a) {
  return (void*)(long)prlimit((pid_t)syscall(SYS_gettid), RLIMIT_AS, &g_rl, NULL);
}
static volatile int g_stop;
static void* churn(void* a) {
  while (!g_stop) {
    void* volatile p = malloc(3 * MiB);
    free(p);
  }
  return a;
}

static int limit_self(int how) {  // 0 setrlimit, 1 raw, 2 tid, 3 busy
  void* volatile warm = malloc(64);  // the first malloc: the reservation is made
  free(warm);
  int rc = 0;
  pthread_t t[4];
  if (how == 2) {
    void* r;
    if (pthread_create(&t[0], NULL, limit_by_tid, NULL) || pthread_join(t[0], &r)) return 1;
    rc = (int)(long)r;
  } else if (how == 3) {
    g_rl.rlim_cur = g_rl.rlim_max = 768 * MiB;  // glibc's four thread arenas take 256 MiB of it
    for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, churn, NULL);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    rc = setrlimit(RLIMIT_AS, &g_rl);
    g_stop = 1;
    for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  } else {
    rc = how ? (int)syscall(SYS_prlimit64, 0, RLIMIT_AS, &g_rl, NULL) : setrlimit(RLIMIT_AS, &g_rl);
  }
  if (rc) {
    perror("setrlimit");
    return 1;
  }
  // First without a malloc in between: only the setrlimit can have fitted it
  // (the raw system call is seen at the next growth).
  if (how != 1) printf("at once: mmap(16 MiB): %s, thread: %s\n", maps(16 * MiB), threads(1) == 1 ? "ok" : "FAILED");
  size_t n = 0;
  while (n < 1024 && (held[n] = malloc(MiB)) != NULL) memset(held[n++], 7, MiB);
  for (size_t i = 0; i < n; ++i) free(held[i]);
  const size_t lim = g_rl.rlim_cur / MiB;
  printf("1 MiB blocks under %zu MiB: %s\n", lim, n < lim ? "fewer than the limit" : "as many as the limit or more");
  fprintf(stderr, "got %zu blocks of 1 MiB\n", n);
  printf("mmap(16 MiB): %s\nthread: %s\n", maps(16 * MiB), threads(1) == 1 ? "ok" : "FAILED");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  const char* how[] = {"set", "raw", "tid", "busy"};
  for (int i = 0; i < 4; ++i)
    if (!strcmp(mode, how[i])) return limit_self(i);
  if (!strcmp(mode, "trim")) {
    size_t n = 0;
    while (n < 100000 && n * 4000 < 350 * MiB && (held[n] = malloc(4000)) != NULL) memset(held[n++], 1, 4000);
    for (size_t i = 0; i < n; ++i) free(held[i]);
    malloc_trim(0);
    fprintf(stderr, "freed %zu blocks of 4000 B\n", n);
    printf("threads: %d of 8\nmmap(32 MiB): %s\n", threads(8), maps(32 * MiB));
    return 0;
  }
  if (!strcmp(mode, "fast")) {
    size_t n = 0;
    while (n < 100000 && n * 4000 < 300 * MiB && (held[n] = malloc(4000)) != NULL) memset(held[n++], 1, 4000);
    for (size_t i = 0; i < n; ++i) free(held[i]);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      for (int i = 0; i < 1000; ++i) {
        char* volatile p = malloc(64);
        p[0] = 1;
        free(p);
      }
      clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < 1.0);
    fprintf(stderr, "freed %zu blocks of 4000 B\n", n);
    printf("threads: %d of 8\nmmap(100 MiB): %s\n", threads(8), maps(100 * MiB));
    return 0;
  }
  if (!strcmp(mode, "tiny")) {
    int ok = 0;
    for (int i = 0; i < 1000; ++i) {
      void* volatile p = malloc(64);
      ok += p != NULL;
    }
    void* volatile q = malloc(MiB);
    printf("malloc(64): %d of 1000\nmalloc(1 MiB): %s\n", ok, q ? "ok" : "NULL");
    return 0;
  }
  fprintf(stderr, "usage: %s set|raw|tid|busy|trim|fast|tiny\n", argv[0]);
  return 2;
}
