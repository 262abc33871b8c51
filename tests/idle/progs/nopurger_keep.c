// HAKOZUNA_BACKGROUND_PURGE=0: no purger ever runs. Freed large spans were
// then purged at every free, so a buffer replaced in a loop faulted all its
// pages in each time (a perl string kept near 5 MB: 58 s against 2.6 s with
// the purger, 193 GB purged). Now what is kept is bounded by the floor (16
// MiB) and no spare, as a single-threaded program keeps before its purger
// starts. Checks both:
//  - 400 replacements of a 5 MB buffer (the new one made before the old is
//    freed, every page written) fault in fewer than a tenth of the pages
//    written;
//  - a freed 200 MB buffer (over the floor) is back at once: RSS falls by
//    at least 150 MB with no further call.
// Run: HAKOZUNA_BACKGROUND_PURGE=0 ./nopurger_keep
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rss.h"

static long minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

int main(void) {
  const size_t sz = 5u << 20;
  char* cur = malloc(sz);
  memset(cur, 1, sz);
  long f0 = minor_faults();
  for (int i = 0; i < 400; ++i) {
    char* next = malloc(sz);
    if (!next) return printf("malloc failed\n"), 1;
    memset(next, i, sz);
    free(cur);
    cur = next;
  }
  long faults = minor_faults() - f0, written = 400L * (long)(sz / 4096);
  free(cur);
  printf("%ld minor faults for %ld pages written\n", faults, written);
  int bad = faults * 10 >= written;

  char* big = malloc(200u << 20);
  memset(big, 1, 200u << 20);
  long before = rss_kib();
  free(big);
  long after = rss_kib();
  printf("RSS %ld KiB before the free of 200 MB, %ld after\n", before, after);
  bad |= before - after < 150L * 1024;
  return bad;
}
