/* rlimit_scattered N map|mapcount|tail: under a tight RLIMIT_AS (the
 * script sets it), N blocks of 260 KiB with a small block after each (one
 * page of each written), then:
 *   map       all the 260 KiB blocks are freed, and the program maps 16 MiB
 *             pieces of its own: at least 90% of what it freed must come
 *             back (glibc's large blocks are mappings of their own; an arena
 *             that kept at most 8192 holes gave 2 080 of 3 830 MiB);
 *   mapcount  the program first splits a region of its own into mappings up
 *             to near vm.max_map_count, then frees every other block: the
 *             arena's unmaps that would split its mapping are refused, and
 *             the spans must stay usable;
 *   tail      a 300 MiB block at the end of the heap is freed (the range
 *             past the heap's end goes back under RLIMIT_AS), the program
 *             maps N pages of its own (at most 48) 4 MiB apart from 2 MiB
 *             past the block, and the heap must still grow by 20 blocks of
 *             128 MiB around them (it failed for good with one such page;
 *             with more than 16, while at most 16 taken ranges were noted).
 * Then a second round of the freed blocks must fit and every block is
 * checked. Prints "ok" and exits 0; or says what failed and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

enum { kBig = 260 << 10, kPiece = 16 << 20 };

static long max_map_count(void) {
  FILE* f = fopen("/proc/sys/vm/max_map_count", "r");
  long v = 65530;
  if (f) {
    if (fscanf(f, "%ld", &v) != 1) v = 65530;
    fclose(f);
  }
  return v;
}

static int check(unsigned char** big, size_t n, size_t step) {
  for (size_t i = 0; i < n; i += step)
    if (big[i][0] != (unsigned char)i || big[i][4095] != (unsigned char)i) {
      printf("block %zu lost its contents\n", i);
      return 1;
    }
  return 0;
}

static int tail(size_t pages) {
  char* p = malloc((size_t)300 << 20);
  if (!p) return printf("malloc(300 MiB) failed\n"), 1;
  memset(p, 1, 4096);
  free(p);
  /* From 2 MiB past the freed block, 4 MiB apart: each its own taken range. */
  size_t mapped = 0;
  for (size_t k = 0; k < pages && k < 48; ++k) {
    char* at = p + ((size_t)302 << 20) + (k << 22);
    void* q = mmap(at, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (q == MAP_FAILED) continue; /* the range was not given back: nothing to take */
    memset(q, 0x5a, 4096);
    ++mapped;
  }
  for (int i = 0; i < 20; ++i) {
    char* b = malloc((size_t)128 << 20);
    if (!b) return printf("malloc(128 MiB) #%d failed with the heap's end taken\n", i), 1;
    memset(b, 2, 4096);
  }
  (void)mapped;
  printf("ok\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  if (strcmp(argv[2], "tail") == 0) return tail(strtoul(argv[1], 0, 10));
  const size_t n = strtoul(argv[1], 0, 10);
  const int mapcount = strcmp(argv[2], "mapcount") == 0;
  unsigned char** big = calloc(n, sizeof *big);
  void** small = calloc(n, sizeof *small);
  if (!big || !small) return 1;
  for (size_t i = 0; i < n; ++i) {
    big[i] = malloc(kBig);
    small[i] = malloc(64);
    if (!big[i] || !small[i]) {
      printf("fill: block %zu failed\n", i);
      return 1;
    }
    memset(big[i], (int)(i & 255), 4096);
  }
  const size_t step = mapcount ? 2 : 1;
  if (mapcount) {
    /* One page mappings of our own, every other one read-only so that none
     * merge, up to the freed blocks' count short of the limit. */
    const long own = max_map_count() - (long)(n / 4) - 200;
    char* region = own > 0 ? mmap(0, (size_t)own * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                           : MAP_FAILED;
    if (region == MAP_FAILED) {
      printf("no room for the mappings of our own\n");
      return 1;
    }
    for (long i = 0; i < own; i += 2)
      if (mprotect(region + (size_t)i * 4096, 4096, PROT_READ)) break;
  }
  for (size_t i = 0; i < n; i += step) free(big[i]), big[i] = NULL;
  if (!mapcount) {
    static void* piece[4096];
    size_t got = 0;
    while (got < 4096) {
      void* p = mmap(0, kPiece, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) break;
      piece[got++] = p;
    }
    const size_t freed = n * (size_t)kBig;
    if (got * kPiece < freed / 10 * 9) {
      printf("freed %zu MiB, then could map only %zu MiB\n", freed >> 20, got * kPiece >> 20);
      return 1;
    }
    while (got) munmap(piece[--got], kPiece);
  }
  for (size_t i = 0; i < n; i += step) {
    big[i] = malloc(kBig);
    if (!big[i]) {
      printf("second round: block %zu failed\n", i);
      return 1;
    }
    memset(big[i], (int)(i & 255), 4096);
  }
  if (check(big, n, 1)) return 1;
  for (size_t i = 0; i < n; ++i) free(big[i]), free(small[i]);
  printf("ok\n");
  return 0;
}
