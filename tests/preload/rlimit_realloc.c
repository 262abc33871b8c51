// A buffer grown by realloc in steps of 8 KiB to 16 MiB, a small block kept
// after each step (carved after the buffer: it stops growth in place), as
// perl's Storable grows its output buffer. Prints how many steps moved the
// buffer. Under a limit (`ulimit -v`, HAKOZUNA_ARENA_SIZE) hakozuna gave a
// moved block no room, so every step past the first few moved and copied the
// whole buffer: perl under `ulimit -v 4G` ran 4.5x glibc's time (a break-it
// helper's sweep of Debian programs).
// Built without hakozuna; run with LD_PRELOAD under a limit.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP (8u << 10)
#define END (16u << 20)

int main(void) {
  static void* kept[END / STEP];
  unsigned char* buf = NULL;
  size_t n = 0, moves = 0, steps = 0;
  for (size_t size = STEP; size <= END; size += STEP, ++steps) {
    unsigned char* q = realloc(buf, size);
    if (!q) {
      printf("realloc(%zu) failed\n", size);
      return 1;
    }
    if (buf && q != buf) ++moves;
    if (buf && (q[0] != 0x5A || q[size - STEP - 1] != 0x5A)) {
      printf("realloc(%zu) lost the contents\n", size);
      return 1;
    }
    memset(q + size - STEP, 0x5A, STEP);
    q[0] = 0x5A;
    buf = q;
    kept[n++] = malloc(100 + steps % 900);
  }
  for (size_t i = 0; i < n; ++i) free(kept[i]);
  free(buf);
  printf("%zu steps, %zu moves\n", steps, moves);
  return 0;
}
