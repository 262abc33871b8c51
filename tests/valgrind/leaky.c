/* Linked with libhakozuna.a by the C driver alone (no -lstdc++) and run under
 * memcheck (memcheck_test.sh), which must report, for blocks from hakozuna's
 * heap:
 *   definitely lost: 3 blocks of 64 B and one of 1 MiB (a page span):
 *     1,048,768 bytes in 4 blocks; still reachable: 128 bytes in 1 block
 *   one invalid read, 500 bytes inside a freed block of size 1024
 *   one conditional jump on an uninitialised byte of a reused block
 * and nothing from hakozuna's own work (blocks freed by another thread,
 * realloc, calloc, aligned blocks, page spans), except the free() of a block
 * whose second word the program left uninitialised: free() compares it with
 * the free key, which memcheck flags and valgrind.supp suppresses. */
#include <hakozuna.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void* g_reachable;

enum { kBlocks = 2000 };
static char* g_blocks[kBlocks];

__attribute__((noinline)) static void leak(size_t size) {
  char* p = malloc(size);
  memset(p, 1, size);
}

static void* free_them(void* arg) {
  (void)arg;
  for (int i = 0; i < kBlocks; ++i) free(g_blocks[i]);
  return NULL;
}

/* Blocks of several sizes freed by another thread (remote frees), reused,
 * grown, zeroed and aligned: hakozuna's lists in the free blocks, never a
 * report. */
static unsigned long churn(void) {
  unsigned long sum = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kBlocks; ++i) {
      g_blocks[i] = malloc(16 + (size_t)(i % 7) * 40);
      memset(g_blocks[i], i & 0xff, 16);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, free_them, NULL) != 0 || pthread_join(t, NULL) != 0) exit(99);
  }
  for (int i = 0; i < kBlocks; ++i) {
    char* p = calloc(1, 100);
    p = realloc(p, 3000 + (size_t)i);
    sum += (unsigned char)p[50];
    void* a = aligned_alloc(256, 512);
    memset(a, 2, 512);
    free(a);
    free(p);
  }
  char* span = malloc(600 << 10);
  memset(span, 5, 600 << 10);
  free(span);
  return sum;
}

__attribute__((noinline)) static void free_uninitialised(void) {
  char junk[32];
  char* p = malloc(32);
  memcpy(p, junk, sizeof junk);
  free(p);
}

int main(void) {
  /* First, while no freed block of another size lay where this one does
   * (memcheck names the oldest freed block around an address). */
  char* freed = malloc(1000);
  memset(freed, 7, 1000);
  free(freed);
  volatile char after_free = freed[500];
  (void)after_free;
  char* reused = malloc(1000);
  if (reused[500] == 3) puts("uninitialised byte was 3");
  free(reused);
  unsigned long sum = churn();
  for (int i = 0; i < 3; ++i) leak(64);
  leak(1 << 20);
  g_reachable = malloc(128);
  free_uninitialised();
  printf("hakozuna %d, sum %lu\n", hz_version(), sum);
  return 0;
}
