// Caches of exited threads wait in a pool for the next thread. They were
// never given back: 39 KB resident each (a region's tables and bins, the
// remote stash and spill arrays); 2 000 short threads at a time left 143 MB
// after idling against glibc's 66 (a break-it helper's program). Now a
// decay pass purges the pages of caches pooled for the decay delay.
// 400 threads at once (64 KiB stacks), each allocating blocks of 48 classes
// and freeing them; all joined; then, within twice HAKOZUNA_PURGE_DELAY_MS,
// RSS must come down to less than 35 KiB per thread above what the process
// had before them. What stays is the stacks glibc caches (glibc: 22 KiB per
// thread); the pooled caches kept 47 KiB per thread in all before.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rss.h"

enum { kThreads = 400 };
static pthread_barrier_t g_bar;

static void* worker(void* arg) {
  void* p[48];
  for (int i = 0; i < 48; i++) memset(p[i] = malloc(16 + (size_t)i * 170), 1, 16);
  pthread_barrier_wait(&g_bar);
  for (int i = 0; i < 48; i++) free(p[i]);
  return arg;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(void) {
  const char* d = getenv("HAKOZUNA_PURGE_DELAY_MS");
  const long delay = d ? atol(d) : 500;
  free(malloc(1));
  const long base = rss_kib();
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 65536);
  pthread_barrier_init(&g_bar, NULL, kThreads);
  static pthread_t t[kThreads];
  for (int i = 0; i < kThreads; i++)
    if (pthread_create(&t[i], &at, worker, NULL) != 0) return 2;
  for (int i = 0; i < kThreads; i++) pthread_join(t[i], NULL);
  const long joined = rss_kib(), t0 = now_ms();
  long idle = joined;
  while (now_ms() - t0 < 2 * delay) {
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
    idle = rss_kib();
    if (idle - base < kThreads * 35L) break;
  }
  printf("base %ld KiB, after the threads %ld, %ld ms later %ld\n", base, joined, now_ms() - t0, idle);
  return idle - base < kThreads * 35L ? 0 : 1;
}
