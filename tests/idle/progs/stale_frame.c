// Dead signal frames left on a thread's stack keep its cache from ever being
// taken. Threads get signals while they malloc (a profiler's SIGPROF does
// this all day), then sleep in a function whose uninitialised local buffer
// covers the dead frames (a read() into a stack buffer). The scan between sp
// and the stack top finds a word equal to __restore_rt (from the SIGSETXID
// handler glibc always installs, or the program's own) with a saved rip in
// our code 176 bytes above it, and refuses, every time.
// Prints RSS after the threads went to sleep. Compare "signals" with "none".
// Run: LD_PRELOAD=.../libhakozuna.so ./stale_frame signals|none|signals-clear
// (signals-clear: the buffer is zeroed before read(): the dead frames are gone)
// ENOMEM variant: STALE_ENOMEM=1 STALE_MIB=12 HAKOZUNA_ARENA_SIZE=256M HAKOZUNA_PURGE_DELAY_MS=60000 ...
// (as tests/idle NoEnomemWhileSleepingThreadsHoldFreeMemory: 200 x 1 MiB more)
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rss.h"

#define T 16
static int go[2];
static volatile int phase, clear_buffer;
static unsigned per_thread_mib = 20;
static volatile unsigned long handled;
static pthread_t th[T];

static void on_prof(int s) { (void)s; handled++; }

static size_t size_of(unsigned i) { return 1024 + (i * 2654435761u) % (31 * 1024); }

__attribute__((noinline)) static void sleep_with_buffer(void) {
  char buf[64 << 10];  // not written before read() returns
  if (clear_buffer) memset(buf, 0, sizeof buf);  // control: the dead frames are gone
  read(go[0], buf + sizeof buf - 1, 1);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

__attribute__((noinline)) static void churn_small(void) {
  void* p[32] = {0};
  unsigned r = 1;
  while (phase == 1)
    for (int k = 0; k < 1000; ++k) {
      r = r * 1103515245 + 12345;
      unsigned i = (r >> 8) & 31;
      free(p[i]);
      p[i] = malloc(16 + (r >> 16) % 512);
    }
  for (int i = 0; i < 32; ++i) free(p[i]);
}

static void* worker(void* arg) {
  long t = (long)arg;
  static void* all[T][40000];
  void** blocks = all[t];
  size_t n = 0, bytes = 0;
  for (unsigned i = (unsigned)t * 7919; bytes < (per_thread_mib << 20); ++i) {
    size_t s = size_of(i);
    blocks[n] = malloc(s);
    memset(blocks[n++], 0x5a, s);
    bytes += s;
  }
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  churn_small();  // signals land here when enabled
  sleep_with_buffer();
  return NULL;
}


int main(int argc, char** argv) {
  int with = argc > 1 && !strncmp(argv[1], "signals", 7);
  clear_buffer = argc > 1 && !strcmp(argv[1], "signals-clear");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prof;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGPROF, &sa, NULL);
  if (getenv("STALE_MIB")) per_thread_mib = (unsigned)atoi(getenv("STALE_MIB"));
  pipe(go);
  phase = 1;
  for (long i = 0; i < T; ++i) pthread_create(&th[i], NULL, worker, (void*)i);
  usleep(1500000);  // fill, then churn
  if (with)
    for (int k = 0; k < 400; ++k) {
      for (int i = 0; i < T; ++i) pthread_kill(th[i], SIGPROF);
      usleep(500);
    }
  phase = 2;
  usleep(100000);
  long before = rss_kib();
  sleep(2);  // 4x the purge delay
  printf("%s: RSS %ld MiB after the threads went to sleep, %ld MiB 2 s later (%lu signals handled)\n",
         argv[1], before >> 10, rss_kib() >> 10, handled);
  if (getenv("STALE_ENOMEM")) {  // the exhaustion sequence refuses them too
    static void* more[200];
    int got = 0;
    while (got < 200 && (more[got] = malloc(1 << 20))) memset(more[got++], 2, 1 << 20);
    printf("%s: %d of 200 MiB more%s\n", argv[1], got, got < 200 ? " (ENOMEM)" : "");
    for (int i = 0; i < got; ++i) free(more[i]);
  }
  for (int i = 0; i < T; ++i) write(go[1], "x", 1);
  for (int i = 0; i < T; ++i) pthread_join(th[i], NULL);
  return 0;
}
