/* dropin_maps: after a few allocations, the process's readable and writable
 * anonymous mappings total under 16 GiB. A program that reads every page of
 * them (stress-ng --fork-vm, a checkpointer, a memory scanner) must not find
 * the arena's whole reservation there: 256 GiB of it was readable, and such
 * a walk faulted in zero pages for 39 s of system time per process (glibc's
 * run: 0.05 s). Prints "dropin_maps ok", or the total and the mappings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  void* keep[64];
  for (int i = 0; i < 64; ++i) keep[i] = malloc((size_t)1 << (4 + i % 20));
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return 1;
  char line[512];
  unsigned long long total = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long lo, hi;
    char perms[8];
    if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && perms[0] == 'r' && perms[1] == 'w') total += hi - lo;
  }
  fclose(f);
  for (int i = 0; i < 64; ++i) free(keep[i]);
  if (total >= (16ull << 30)) {
    printf("readable and writable mappings: %llu MiB\n", total >> 20);
    return 1;
  }
  printf("dropin_maps ok\n");
  return 0;
}
