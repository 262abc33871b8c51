// Many threads near HAKOZUNA_ARENA_SIZE: each replaces a few slots with
// mostly small blocks and now and then one of 64 KiB-4.3 MB (malloc, calloc,
// posix_memalign, realloc), stamped in every page and checked before each
// free and realloc. Near the limit the page heap unmaps free spans as holes
// and maps them back; a refill that mapped back more than the limit allowed
// once let the heap's top run past its cap and hand out unmapped pages (a
// crash at the first write, every run). NULL is allowed (the limit is
// tight); a broken block is not. Prints "ok".
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_stamp.h"

#define SLOTS 4
static long iters = 3000;
static unsigned rare = 64;

static uint64_t rnd(uint64_t* s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}
static size_t pick(uint64_t* s) {
  if (rnd(s) % rare == 0) return 65536 + rnd(s) % (4400000 - 65536);
  return 1 + rnd(s) % 4096;
}
static void check(const void* p, size_t n, size_t upto, uint64_t v) {
  if (!intact(p, n, upto, v)) {
    printf("BROKEN: a block of %zu bytes\n", n);
    exit(1);
  }
}

static void* worker(void* arg) {
  uint64_t s = (uintptr_t)arg * 2654435761u + 1, next = (uintptr_t)arg << 40 | 1;
  unsigned char* p[SLOTS] = {0};
  size_t size[SLOTS] = {0};
  uint64_t id[SLOTS] = {0};
  for (long it = 0; it < iters; ++it) {
    unsigned k = rnd(&s) % SLOTS, op = rnd(&s) % 4;
    size_t n = pick(&s);
    unsigned char* q = NULL;
    if (op == 3 && p[k]) {
      check(p[k], size[k], size[k], id[k]);
      size_t kept = n < size[k] ? n : size[k];
      if (!(q = realloc(p[k], n))) continue;
      check(q, size[k], kept, id[k]);
    } else {
      if (p[k]) check(p[k], size[k], size[k], id[k]), free(p[k]), p[k] = NULL;
      if (op == 0) {
        q = malloc(n);
      } else if (op == 1) {
        if ((q = calloc(1, n)))
          for (size_t o = 0; o < n; o += 4096)
            if (q[o]) {
              printf("BROKEN calloc: not zero at +%zu of %zu\n", o, n);
              exit(1);
            }
      } else if (posix_memalign((void**)&q, (size_t)64 << rnd(&s) % 6, n)) {
        q = NULL;
      }
      if (!q) continue;
    }
    p[k] = q, size[k] = n, id[k] = next++;
    stamp(q, n, id[k]);
  }
  for (unsigned k = 0; k < SLOTS; ++k)
    if (p[k]) check(p[k], size[k], size[k], id[k]), free(p[k]);
  return NULL;
}

int main(int argc, char** argv) {
  int nt = argc > 1 ? atoi(argv[1]) : 1000;
  if (argc > 2) iters = atol(argv[2]);
  if (argc > 3) rare = (unsigned)atoi(argv[3]);
  pthread_t* t = malloc(sizeof *t * (size_t)nt);
  for (long i = 0; i < nt; ++i)
    if (pthread_create(&t[i], NULL, worker, (void*)(i + 1))) {
      perror("pthread_create");
      return 2;
    }
  for (int i = 0; i < nt; ++i) pthread_join(t[i], NULL);
  puts("ok");
  return 0;
}
