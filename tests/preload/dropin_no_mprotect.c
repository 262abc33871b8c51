/* A seccomp filter refuses mprotect (EPERM) before the first malloc, as a
 * sandbox may: the heap opens its reservation by mprotect, so every malloc
 * failed with ENOMEM (glibc's malloc never calls it; break-it helper,
 * thirteenth session). Now fresh pages are mapped over the range instead.
 * 300 MB of blocks from 16 B to 8 MiB, each filled and checked, freed, and
 * made again; errno untouched by the mallocs that succeed. Prints
 * "dropin_no_mprotect ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "seccomp_deny.h"

enum { kBlocks = 4000 };
static unsigned char* blocks[kBlocks];

static size_t size_of(int i) { return (size_t)16 << (i % 20); }  /* 16 B .. 8 MiB */

int main(void) {
  if (deny_syscall(SYS_mprotect, EPERM)) return 1;
  for (int round = 0; round < 2; ++round) {
    size_t total = 0;
    errno = 0;
    for (int i = 0; i < kBlocks && total < (300u << 20); ++i) {
      size_t n = size_of(i);
      blocks[i] = malloc(n);
      if (!blocks[i]) {
        printf("round %d: malloc(%zu) failed, errno %d\n", round, n, errno);
        return 1;
      }
      memset(blocks[i], i & 255, n);
      total += n;
    }
    if (errno) printf("round %d: errno %d after successful mallocs\n", round, errno);
    for (int i = 0; i < kBlocks && blocks[i]; ++i) {
      size_t n = size_of(i);
      if (blocks[i][0] != (i & 255) || blocks[i][n - 1] != (i & 255)) {
        printf("round %d: block %d damaged\n", round, i);
        return 1;
      }
      free(blocks[i]);
      blocks[i] = NULL;
    }
  }
  printf("dropin_no_mprotect ok\n");
  return 0;
}
