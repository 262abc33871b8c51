/* A program with known allocation figures, for hakozuna profile's test:
 *   8000 blocks of 48 B and 2000 of 1000 B (class 1024) and one of 1.5 MiB,
 *   all live at once (peak live 8000*48 + 2000*1024 + 1.5 MiB = 4,004,864 B),
 *   then 6000 of the 48 B blocks freed by a second thread (remote frees) and
 *   the rest by the main thread: 60% of the 10001 frees remote, 75% of those
 *   of 48 B, none of the others.
 * Prints a checksum of what it wrote in the blocks (the same with or without
 * profiling) and exits with the status given as its argument. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kSmall = 8000, kMid = 2000, kRemote = 6000 };
static unsigned char* small_blocks[kSmall];
static unsigned char* mid_blocks[kMid];

static void* remote_freer(void* arg) {
  (void)arg;
  for (int i = 0; i < kRemote; ++i) free(small_blocks[i]);
  return NULL;
}

int main(int argc, char** argv) {
  unsigned long sum = 0;
  for (int i = 0; i < kSmall; ++i) {
    small_blocks[i] = malloc(48);
    memset(small_blocks[i], i & 0xff, 48);
  }
  for (int i = 0; i < kMid; ++i) {
    mid_blocks[i] = malloc(1000);
    memset(mid_blocks[i], (i * 7) & 0xff, 1000);
  }
  unsigned char* big = malloc(1536 * 1024);
  memset(big, 3, 1536 * 1024);
  for (int i = 0; i < kSmall; ++i) sum += small_blocks[i][i % 48];
  for (int i = 0; i < kMid; ++i) sum += mid_blocks[i][i % 1000];
  sum += big[12345];
  free(big);
  pthread_t t;
  if (pthread_create(&t, NULL, remote_freer, NULL) != 0 || pthread_join(t, NULL) != 0) return 99;
  for (int i = kRemote; i < kSmall; ++i) free(small_blocks[i]);
  for (int i = 0; i < kMid; ++i) free(mid_blocks[i]);
  printf("checksum %lu\n", sum);
  return argc > 1 ? atoi(argv[1]) : 0;
}
