/* rlimit_holes MIB BIG [ROUNDS]: under a tight RLIMIT_AS (the script sets
 * it), fills MIB blocks of 1 MiB (one page of each written), frees every
 * other one, then asks for one block of BIG MiB: the free half leaves enough
 * address space for it, in pieces. glibc's large blocks are mappings of
 * their own, so it gets it; an arena that kept the pieces' address space
 * reserved would not. Then every block is checked (first page pattern), a
 * second round of 1 MiB blocks must fit where the freed ones were, and all
 * is freed. ROUNDS (default 1) repeats the whole: the room must not creep
 * away round after round (glibc itself fails the second round).
 * Prints "ok" and exits 0; or says what failed and exits 1. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  size_t n = strtoul(argv[1], 0, 10), big = strtoul(argv[2], 0, 10) << 20;
  size_t rounds = argc > 3 ? strtoul(argv[3], 0, 10) : 1;
  unsigned char** p = calloc(n, sizeof *p);
  if (!p) return 1;
  for (size_t round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < n; ++i) {
      p[i] = malloc(1 << 20);
      if (!p[i]) {
        printf("round %zu, fill: malloc(1 MiB) #%zu failed\n", round, i);
        return 1;
      }
      memset(p[i], (int)(i & 255), 4096);
    }
    for (size_t i = 0; i < n; i += 2) free(p[i]), p[i] = NULL;
    errno = 0;
    unsigned char* q = malloc(big);
    if (!q) {
      printf(
          "round %zu: malloc(%zu MiB) with %zu MiB free in pieces: NULL, "
          "errno %d\n",
          round, big >> 20, n / 2, errno);
      return 1;
    }
    if (errno != 0) printf("malloc(%zu MiB) succeeded but set errno to %d\n", big >> 20, errno);
    for (size_t off = 0; off < big; off += 4096) q[off] = (unsigned char)(off >> 12);
    for (size_t off = 0; off < big; off += 4096)
      if (q[off] != (unsigned char)(off >> 12)) {
        printf("the big block does not hold what was written\n");
        return 1;
      }
    for (size_t i = 1; i < n; i += 2)
      for (size_t k = 0; k < 4096; ++k)
        if (p[i][k] != (unsigned char)(i & 255)) {
          printf("block %zu lost its contents\n", i);
          return 1;
        }
    free(q);
    for (size_t i = 0; i < n; i += 2) {
      p[i] = malloc(1 << 20);
      if (!p[i]) {
        printf("refill: malloc(1 MiB) #%zu failed after the big block was freed\n", i);
        return 1;
      }
      memset(p[i], 7, 1 << 20);
    }
    for (size_t i = 0; i < n; ++i) free(p[i]);
  }
  free(p);
  printf("ok\n");
  return 0;
}
