// Locked pages refuse MADV_DONTNEED (EINVAL). The purge ignored that and
// listed the span clean, as if it read zero: calloc over it skipped its
// memset and handed out the old bytes, and a thread cache carved from such a
// chunk (carved unwritten, taken as zero) found its lock held and the first
// small malloc spun for ever (a break-it helper's programs; 5 of 5 each).
// Modes:
//   one   - one mlock()ed 8 MiB buffer freed without munlock, malloc_trim,
//           then calloc(8 MiB) must read zero, 8 rounds
//   all   - mlockall(MCL_CURRENT|MCL_FUTURE), 3 blocks of 64 MiB written and
//           freed (purged by the page heap on its own), 3 callocs must read
//           zero, then malloc(32) must return (every round's own thread)
// Exit 77 (skipped) where the process may not lock memory.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t nonzero_pages(const unsigned char* q, size_t sz) {
  size_t nz = 0;
  for (size_t j = 0; j < sz; j += 4096) nz += q[j] != 0 || q[j + 4095] != 0;
  return nz;
}

static void fill(unsigned char* p, size_t sz) {
  memset(p, 0xAA, sz);
  __asm__ volatile("" ::"r"(p) : "memory");  // the memset before free stays
}

static int one(void) {
  const size_t sz = 8u << 20;
  int bad = 0;
  for (int round = 0; round < 8; ++round) {
    unsigned char* p = malloc(sz);
    if (mlock(p, sz)) {
      printf("mlock: %s: skipped\n", strerror(errno));
      return 77;
    }
    fill(p, sz);
    free(p);
    malloc_trim(0);
    unsigned char* q = calloc(1, sz);
    size_t nz = nonzero_pages(q, sz);
    if (nz) printf("round %d: calloc(8 MiB) = %p: %zu pages not zero\n", round, (void*)q, nz), bad++;
    munlock(q, sz);
    free(q);
  }
  return bad;
}

static void* small(void* arg) {
  void* p = malloc(32);  // a new thread cache: carved from the page heap
  free(p);
  return p ? arg : NULL;
}

static int all(void) {
  if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
    printf("mlockall: %s: skipped\n", strerror(errno));
    return 77;
  }
  const size_t sz = 64u << 20;
  enum { N = 3 };
  unsigned char* a[N];
  int bad = 0;
  for (int k = 0; k < N; k++) fill(a[k] = malloc(sz), sz);
  for (int k = 0; k < N; k++) free(a[k]);
  for (int k = 0; k < N; k++) {
    a[k] = calloc(1, sz);
    size_t nz = nonzero_pages(a[k], sz);
    if (nz) printf("calloc(64 MiB) = %p: %zu pages not zero\n", (void*)a[k], nz), bad++;
  }
  for (int k = 0; k < N; k++) free(a[k]);
  for (int k = 0; k < 4; k++) {  // each thread's cache is carved anew
    pthread_t t;
    void* r = NULL;
    if (pthread_create(&t, NULL, small, &bad) == 0) pthread_join(t, &r);
    if (!r) printf("thread %d: malloc(32) failed\n", k), bad++;
  }
  return bad;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "one";
  int r = strcmp(mode, "all") == 0 ? all() : one();
  if (r == 77) return 77;
  printf("%s: %d bad\n", mode, r);
  return r != 0;
}
