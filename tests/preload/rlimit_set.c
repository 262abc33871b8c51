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
//   tiny (run under `ulimit -v 10000`) 1000 mallocs of 64 B and one of
//        1 MiB (all failed: the reservation's floor was 16 MiB).
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

static int limit_self(int raw) {
  void* volatile warm = malloc(64);  // the first malloc: the reservation is made
  free(warm);
  struct rlimit rl = {256 * MiB, 256 * MiB};
  if (raw ? syscall(SYS_prlimit64, 0, RLIMIT_AS, &rl, NULL) : setrlimit(RLIMIT_AS, &rl)) {
    perror("setrlimit");
    return 1;
  }
  size_t n = 0;
  while (n < 1024 && (held[n] = malloc(MiB)) != NULL) memset(held[n++], 7, MiB);
  for (size_t i = 0; i < n; ++i) free(held[i]);
  printf("1 MiB blocks under 256 MiB: %s\n", n < 256 ? "fewer than 256" : "256 or more");
  fprintf(stderr, "got %zu blocks of 1 MiB\n", n);
  printf("mmap(16 MiB): %s\nthread: %s\n", maps(16 * MiB), threads(1) == 1 ? "ok" : "FAILED");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "set") || !strcmp(mode, "raw")) return limit_self(!strcmp(mode, "raw"));
  if (!strcmp(mode, "trim")) {
    size_t n = 0;
    while (n < 100000 && n * 4000 < 350 * MiB && (held[n] = malloc(4000)) != NULL) memset(held[n++], 1, 4000);
    for (size_t i = 0; i < n; ++i) free(held[i]);
    malloc_trim(0);
    fprintf(stderr, "freed %zu blocks of 4000 B\n", n);
    printf("threads: %d of 8\nmmap(32 MiB): %s\n", threads(8), maps(32 * MiB));
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
  fprintf(stderr, "usage: %s set|raw|trim|tiny\n", argv[0]);
  return 2;
}
