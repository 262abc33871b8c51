// A new thread's bins start small (slow start), and while they grow a
// refill carves at most HZ_SLOW_START_BYTES of blocks: carving writes a link
// into each block, so a first refill of a 4-8 KiB class that carved four
// blocks faulted in four pages for the one the thread wanted. 400 threads
// at once (64 KiB stacks), each holding one block of each of ten classes
// from 4 KiB to 8 KiB, first byte written: while they all hold them, RSS
// must stay under 124 KiB per thread above the process before them (one
// block per class: 40 KiB, with the thread's stack and cache 107 KiB; four
// per class carved: 141 KiB; glibc 49).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "rss.h"

enum { kThreads = 400, kClasses = 10 };
static pthread_barrier_t g_held, g_measured;

static void* worker(void* arg) {
  char* p[kClasses];
  for (int i = 0; i < kClasses; i++) (p[i] = malloc(4100 + (size_t)i * 400))[0] = 1;
  pthread_barrier_wait(&g_held);
  pthread_barrier_wait(&g_measured);
  for (int i = 0; i < kClasses; i++) free(p[i]);
  return arg;
}

int main(void) {
  free(malloc(1));
  const long base = rss_kib();
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 65536);
  pthread_barrier_init(&g_held, NULL, kThreads + 1);
  pthread_barrier_init(&g_measured, NULL, kThreads + 1);
  static pthread_t t[kThreads];
  for (int i = 0; i < kThreads; i++)
    if (pthread_create(&t[i], &at, worker, NULL) != 0) return 2;
  pthread_barrier_wait(&g_held);
  const long held = rss_kib();
  pthread_barrier_wait(&g_measured);
  for (int i = 0; i < kThreads; i++) pthread_join(t[i], NULL);
  const long per = (held - base) / kThreads;
  printf("base %ld KiB, %ld with the blocks held: %ld KiB per thread\n", base, held, per);
  return per < 124 ? 0 : 1;
}
