// Fills the heap with 1 MiB blocks until malloc fails (run under prlimit
// --as), frees them all, then makes the process's first small allocations:
// they must succeed, as under glibc.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void* big[400000];  // 3 MiB of bss: leaves the arena less room than a thread cache chunk

int main(void) {
  size_t n = 0;
  while (n < 400000 && (big[n] = malloc(1 << 20)) != NULL) memset(big[n++], 1, 64);
  if (n < 16) {
    printf("could not fill the heap (%zu blocks)\n", n);
    return 1;
  }
  for (size_t i = n; i > 0; --i) free(big[i - 1]);
  printf("filled %zu MiB\n", n);  // stdio's buffer: the first small malloc
  for (int i = 0; i < 100000; ++i) {
    char* p = malloc(1000);
    if (!p) {
      printf("malloc(1000) failed after %zu MiB were freed\n", n);
      return 1;
    }
    memset(p, 5, 1000);
    big[i % 8192] = p;  // keep some alive, free the rest
    if (i >= 8192) free(big[(i + 1) % 8192]);
  }
  printf("rlimit_refill ok (%zu MiB filled and freed)\n", n);
  return 0;
}
