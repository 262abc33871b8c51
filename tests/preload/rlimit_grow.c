// Address-space limits: started under a low soft RLIMIT_AS, fills memory until
// malloc fails (printing how much it got), then, if the hard limit allows,
// raises its own soft limit and allocates 2 GiB more in pieces from two
// threads, which must all succeed: the allocator has to use room it is given
// later, without moving what it handed out.
// Built without hakozuna; run with and without LD_PRELOAD.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MiB (1024UL * 1024UL)

static unsigned char* held[1 << 15];  // phase 1's 1 MiB blocks
static unsigned char* small[1 << 15];  // ... and the small ones beside them
static size_t nheld, nsmall;

static unsigned char* big[64];     // phase 2: 32 MiB pieces, 32 per thread
static unsigned char* kept[64 * 50];  // ... and small blocks kept beside them

static void* worker(void* arg) {
  int first = (int)(long)arg * 32;
  for (int i = first; i < first + 32; ++i) {
    big[i] = malloc(32 * MiB);
    if (!big[i]) return "malloc(32 MiB) failed";
    big[i][0] = big[i][16 * MiB] = big[i][32 * MiB - 1] = (unsigned char)i;
    for (int j = 0; j < 200; ++j) {
      unsigned char* s = malloc(16 + (size_t)j * 24);
      if (!s) return "a small malloc failed";
      s[0] = 1;
      if (j % 4 == 0) kept[i * 50 + j / 4] = s;
      else free(s);
    }
  }
  return NULL;
}

static void touch(unsigned char* p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i += 4096) p[i] = v;
  p[n - 1] = v;
}

int main(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
    fprintf(stderr, "rlimit_grow: run me under a finite soft RLIMIT_AS\n");
    return 2;
  }
  printf("start\n");  // stdout's buffer is allocated while there is room
  fflush(stdout);

  // Phase 1: 1 MiB blocks, each with a small one beside, until malloc fails.
  size_t got = 0;
  for (;;) {
    unsigned char* p = malloc(MiB);
    if (!p) {
      if (errno != ENOMEM) {
        fprintf(stderr, "rlimit_grow: malloc failed with errno %d, not ENOMEM\n", errno);
        return 1;
      }
      break;
    }
    touch(p, MiB, (unsigned char)nheld);
    held[nheld++] = p;
    got += MiB;
    unsigned char* s = malloc(64 + nheld % 200);
    if (s) {
      memset(s, 7, 64);
      small[nsmall++] = s;
    }
    if (nheld == sizeof held / sizeof held[0]) break;
  }
  fprintf(stderr, "rlimit_grow: soft limit %lu MiB: got %zu MiB in 1 MiB blocks before ENOMEM\n",
          (unsigned long)(rl.rlim_cur / MiB), got / MiB);
  if (got < rl.rlim_cur / 4) {
    fprintf(stderr, "rlimit_grow: gave up far below the soft limit\n");
    return 1;
  }
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur + 3 * 1024 * MiB) {
    printf("no room to raise the limit\n");
    return 0;
  }

  // Phase 2: the soft limit up to the hard one. Two threads allocate 1 GiB
  // each in 32 MiB pieces with small blocks between, all touched a little,
  // while this thread frees phase 1's small blocks (reading the page tags that
  // growing the arena must not move).
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_AS, &rl) != 0) {
    perror("setrlimit");
    return 1;
  }
  for (size_t i = 0; i < nsmall; ++i)
    if (small[i][63] != 7) {
      fprintf(stderr, "rlimit_grow: phase 1 small block %zu lost its contents\n", i);
      return 1;
    }
  pthread_t t[2];
  for (long k = 0; k < 2; ++k)
    if (pthread_create(&t[k], NULL, worker, (void*)k) != 0) {
      fprintf(stderr, "rlimit_grow: pthread_create failed\n");
      return 1;
    }
  for (size_t i = 0; i < nsmall; ++i) {
    free(small[i]);
    small[i] = malloc(48);
    if (small[i]) small[i][0] = 1;
  }
  void* failed = NULL;
  for (int k = 0; k < 2; ++k) {
    void* r;
    pthread_join(t[k], &r);
    if (r) failed = r;
  }
  if (failed) {
    fprintf(stderr, "rlimit_grow: %s after raising the soft limit\n", (const char*)failed);
    return 1;
  }
  unsigned char* more = calloc(1, 256 * MiB);
  if (!more || more[128 * MiB] != 0) {
    fprintf(stderr, "rlimit_grow: calloc(256 MiB) failed after raising the soft limit\n");
    return 1;
  }
  // Nothing moved or was lost.
  for (size_t i = 0; i < nheld; ++i)
    if (held[i][4096] != (unsigned char)i || held[i][MiB - 1] != (unsigned char)i) {
      fprintf(stderr, "rlimit_grow: phase 1 block %zu lost its contents\n", i);
      return 1;
    }
  for (int i = 0; i < 64; ++i)
    if (big[i][16 * MiB] != (unsigned char)i) {
      fprintf(stderr, "rlimit_grow: block %d lost its contents\n", i);
      return 1;
    }
  for (int i = 0; i < 64; ++i) free(big[i]);
  for (int i = 0; i < 64 * 50; ++i) free(kept[i]);  // remote frees for their threads
  free(more);
  for (size_t i = 0; i < nheld; ++i) free(held[i]);
  for (size_t i = 0; i < nsmall; ++i) free(small[i]);
  printf("allocated 2048 MiB more after raising the soft limit\n");
  return 0;
}
