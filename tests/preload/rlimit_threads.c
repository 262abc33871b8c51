// Four threads under a low RLIMIT_AS (run under `ulimit -v 900000`): random
// malloc/calloc/realloc/free of small and large blocks, stamped in every
// page and checked before each free and realloc; blocks traded between
// threads through a shared table (freed by another thread than their
// allocator's); a fork child that allocates and checks its parent's blocks;
// malloc_trim now and then. Large spans are unmapped at free and mapped back
// on demand, and realloc grows large blocks in place: a realloc at the top of
// the heap once grew over whatever followed it when the arena's growth had
// mapped holes back elsewhere (a crash in put_free, about 1 run in 5).
// Prints "ok" under any allocator that works.
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block_stamp.h"

#define SLOTS 512
#define SHARED 64

static void* shared[SHARED];
static size_t shared_size[SHARED];
static uint64_t shared_id[SHARED];
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static long iters = 20000;

static void check(const void* p, size_t n, uint64_t v) {
  if (!intact(p, n, n, v)) {
    printf("BROKEN: a block of %zu bytes\n", n);
    exit(1);
  }
}
static size_t pick(unsigned* seed) {
  unsigned r = (unsigned)rand_r(seed) % 100;
  if (r < 50) return 1 + (size_t)rand_r(seed) % 2048;
  if (r < 70) return 4096 + (size_t)rand_r(seed) % (200 << 10);
  if (r < 97) return (256 << 10) + 1 + (size_t)rand_r(seed) % (3 << 20);
  return (4 << 20) + (size_t)rand_r(seed) % (8 << 20);
}

static void* worker(void* arg) {
  long t = (long)arg;
  unsigned seed = (unsigned)t * 7919u + 1u;
  static __thread void* p[SLOTS];
  static __thread size_t size[SLOTS];
  static __thread uint64_t id[SLOTS];
  uint64_t next = (uint64_t)t << 48 | 1;
  for (long it = 0; it < iters; ++it) {
    unsigned i = (unsigned)rand_r(&seed) % SLOTS, op = (unsigned)rand_r(&seed) % 10;
    if (p[i] && op == 0) {  // trade with the shared table
      pthread_mutex_lock(&shared_mu);
      unsigned k = (unsigned)rand_r(&seed) % SHARED;
      void* q = shared[k];
      size_t qs = shared_size[k];
      uint64_t qi = shared_id[k];
      shared[k] = p[i], shared_size[k] = size[i], shared_id[k] = id[i];
      pthread_mutex_unlock(&shared_mu);
      p[i] = q, size[i] = qs, id[i] = qi;
      if (q) check(q, qs, qi);
    } else if (p[i] && op < 3) {
      check(p[i], size[i], id[i]);
      size_t n = pick(&seed), kept = n < size[i] ? n : size[i];
      void* q = realloc(p[i], n);
      if (!q) continue;
      if (!intact(q, size[i], kept, id[i])) {
        printf("BROKEN realloc: %zu -> %zu bytes\n", size[i], n);
        exit(1);
      }
      p[i] = q, size[i] = n, id[i] = next++;
      stamp(q, n, id[i]);
    } else if (p[i]) {
      check(p[i], size[i], id[i]);
      free(p[i]);
      p[i] = NULL;
    } else {
      size_t n = pick(&seed);
      unsigned char* q = op < 3 ? calloc(1, n) : malloc(n);
      if (!q) continue;
      if (op < 3)
        for (size_t o = 0; o < n; o += 1024)
          if (q[o]) {
            printf("BROKEN calloc: not zero at +%zu of %zu\n", o, n);
            exit(1);
          }
      p[i] = q, size[i] = n, id[i] = next++;
      stamp(q, n, id[i]);
    }
    if (t == 0 && it % 5000 == 2500) {
      pid_t c = fork();
      if (c == 0) {
        void* x = malloc(5 << 20);
        if (x) memset(x, 1, 5 << 20), free(x);
        for (int j = 0; j < SLOTS; ++j)
          if (p[j]) check(p[j], size[j], id[j]);
        _exit(0);
      }
      int st = 0;
      if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("BROKEN: the fork child failed\n");
        exit(1);
      }
    }
    if (t == 1 && it % 7000 == 0) malloc_trim(0);
  }
  for (int i = 0; i < SLOTS; ++i)
    if (p[i]) check(p[i], size[i], id[i]), free(p[i]);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1) iters = atol(argv[1]);
  pthread_t t[4];
  for (long i = 0; i < 4; ++i) pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  for (int k = 0; k < SHARED; ++k)
    if (shared[k]) check(shared[k], shared_size[k], shared_id[k]), free(shared[k]);
  puts("ok");
  return 0;
}
