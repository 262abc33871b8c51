/* rlimit_taken: under RLIMIT_AS (the script sets it) the program maps 2 MiB
 * of its own at the first 4 MiB boundary past the heap's reservation, then
 * grows the heap past it by 100 blocks of 8 MiB, each written. The heap
 * makes the taken range a hole and goes on around it. The run records of
 * the pages just before it were opened only up to it, and a record read
 * past them at that boundary (4 MiB of data to a 64 KiB grain of records)
 * was still closed: SIGSEGV in the page heap, 10 of 10 (a break-it
 * helper's program, 2026-11-28). Prints "ok: 800 MiB" (glibc too). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int main(void) {
  char* p = malloc(16);
  /* The mapping holding p, and those right after it (the reservation's
   * inaccessible part): under glibc, its heap. */
  uintptr_t base = 0, end = 0, lo, hi;
  char line[512];
  FILE* f = fopen("/proc/self/maps", "r");
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
    if (!base && (uintptr_t)p >= lo && (uintptr_t)p < hi) base = lo, end = hi;
    else if (base && lo == end) end = hi;
  }
  fclose(f);
  const uintptr_t grain = 4u << 20;
  uintptr_t at = base + ((end - base + grain - 1) & ~(grain - 1));
  void* q = mmap((void*)at, 2u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (q == MAP_FAILED) fprintf(stderr, "rlimit_taken: no mapping at %#lx (the test shows less)\n", (unsigned long)at);
  size_t total = 0;
  for (int i = 0; i < 100; i++) {
    char* b = malloc(8u << 20);
    if (!b) break;
    memset(b, 1, 8u << 20);
    total += 8u << 20;
  }
  printf("ok: %zu MiB\n", total >> 20);
  free(p);
  return 0;
}
