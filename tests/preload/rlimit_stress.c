// Under a low RLIMIT_AS large blocks' spans become holes at free and are
// mapped back on demand (docs/boxes.md, "Arena holes"). First the shape that
// once put a hole past the end of the heap (the top block freed, its span on a
// 2 MiB boundary, dropped with the top and then punched): blocks placed there
// later lay outside the arena. Then random malloc/calloc/realloc/free of small
// and large blocks, a stamp in every page, checked before each free and
// realloc. Prints the same lines under any allocator that works.
// Run: (ulimit -v 1000000; ./rlimit_stress ITERS)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_stamp.h"

#define MiB ((size_t)1 << 20)
#define SLOTS 2048

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static void check(const unsigned char* p, size_t n, uint64_t v, const char* when) {
  if (!intact(p, n, n, v)) {
    printf("BROKEN %s: a block of %zu bytes\n", when, n);
    exit(1);
  }
}

static size_t pick(void) {
  uint64_t r = next_rand() % 100;
  if (r < 50) return 1 + next_rand() % 2048;
  if (r < 65) return 4096 + next_rand() % (200 << 10);
  if (r < 95) return (256 << 10) + 1 + next_rand() % (3 * MiB);
  return 4 * MiB + next_rand() % (12 * MiB);
}

static int top_block(void) {
  unsigned char* a = malloc(10 * MiB);
  unsigned char* b = malloc(8 * MiB);
  unsigned char* c = malloc(10 * MiB);
  if (!a || !b || !c) return 0;
  stamp(a, 10 * MiB, 1), stamp(b, 8 * MiB, 2), stamp(c, 10 * MiB, 3);
  free(c);  // the block at the end of the heap
  unsigned char* d = malloc(6 * MiB);
  unsigned char* e = malloc(4 * MiB);
  if (!d || !e) return 0;
  stamp(d, 6 * MiB, 4), stamp(e, 4 * MiB, 5);
  check(a, 10 * MiB, 1, "top: a"), check(b, 8 * MiB, 2, "top: b");
  check(d, 6 * MiB, 4, "top: d"), check(e, 4 * MiB, 5, "top: e");
  free(e), free(d), free(b), free(a);
  return 1;
}

int main(int argc, char** argv) {
  long iters = argc > 1 ? atol(argv[1]) : 20000;
  if (!top_block()) {
    puts("top: malloc failed");
    return 1;
  }
  puts("top: ok");
  static unsigned char* p[SLOTS];
  static size_t size[SLOTS];
  static uint64_t id[SLOTS];
  size_t live = 0, cap = 400 * MiB;
  uint64_t next = 1;
  for (long it = 0; it < iters; ++it) {
    unsigned i = (unsigned)(next_rand() % SLOTS);
    unsigned op = (unsigned)(next_rand() % 10);
    if (p[i] && op < 3) {
      check(p[i], size[i], id[i], "before realloc");
      size_t n = pick(), kept = n < size[i] ? n : size[i];
      unsigned char* q = realloc(p[i], n);
      if (!q) continue;
      if (!intact(q, size[i], kept, id[i])) {
        printf("BROKEN realloc: %zu -> %zu bytes\n", size[i], n);
        return 1;
      }
      live += n - size[i];
      p[i] = q, size[i] = n, id[i] = next++;
      stamp(q, n, id[i]);
    } else if (p[i]) {
      check(p[i], size[i], id[i], "before free");
      free(p[i]);
      live -= size[i];
      p[i] = NULL;
    } else {
      size_t n = pick();
      if (live + n > cap) continue;
      unsigned char* q = op < 3 ? calloc(1, n) : malloc(n);
      if (!q) continue;
      if (op < 3)
        for (size_t o = 0; o < n; o += 512)
          if (q[o]) {
            printf("BROKEN calloc: a block of %zu bytes not zero at +%zu\n", n, o);
            return 1;
          }
      p[i] = q, size[i] = n, id[i] = next++, live += n;
      stamp(q, n, id[i]);
    }
  }
  for (unsigned i = 0; i < SLOTS; ++i)
    if (p[i]) check(p[i], size[i], id[i], "at the end"), free(p[i]);
  printf("random: ok, %ld steps\n", iters);
  return 0;
}
