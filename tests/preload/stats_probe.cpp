// Tiny program run under LD_PRELOAD of libhakozuna_stats.so by stats.sh:
// 20 000 mallocs and frees on the main thread, plus 5 000 blocks allocated by
// the main thread and freed by another (remote frees). Prints "probe ok".
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void* blocks[5000];

static void* remote_freer(void*) {
  for (void* p : blocks) free(p);
  return nullptr;
}

int main() {
  for (int i = 0; i < 20000; ++i) {
    void* p = malloc(16 + (i % 64) * 8);
    if (!p) return 2;
    memset(p, i, 16);
    asm volatile("" : : "g"(p) : "memory");
    free(p);
  }
  for (int i = 0; i < 5000; ++i) {
    blocks[i] = malloc(32 + (i % 16) * 16);
    if (!blocks[i]) return 3;
    memset(blocks[i], 1, 32);
  }
  pthread_t t;
  if (pthread_create(&t, nullptr, remote_freer, nullptr) != 0) return 4;
  pthread_join(t, nullptr);
  puts("probe ok");
  return 0;
}
