// Shared by handler_mask.c and own_restorer.c: stamped blocks (an id at
// both ends, checked before each free: a block handed out twice breaks one),
// a worker that a signal interrupts in malloc and free, a churn thread that
// picks up flushed blocks, and the text of libhakozuna (the handler sleeps
// only when it interrupted our code).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define N 64
static volatile int stop;
static volatile unsigned long in_ours, handled;
static uintptr_t lo, hi;

// In a SA_SIGINFO handler: did this signal interrupt our code (a malloc or
// free under way)? Counts the signals, and those in in_ours.
static int interrupted_ours(void* ucv) {
  uintptr_t rip = ((ucontext_t*)ucv)->uc_mcontext.gregs[REG_RIP];
  handled++;
  if (rip < lo || rip >= hi) return 0;
  in_ours++;
  return 1;
}

static void stamp(void* p, size_t n, uint64_t id) { ((uint64_t*)p)[0] = id; memcpy((char*)p + n - 8, &id, 8); }
static void check(void* p, size_t n, uint64_t id) {
  uint64_t a = ((uint64_t*)p)[0], b;
  memcpy(&b, (char*)p + n - 8, 8);
  if (a != id || b != id) {
    fprintf(stderr, "STAMP BROKEN: block %p size %zu id %llu: found %llu / %llu (handed out twice) after %lu sleeps\n", p, n,
            (unsigned long long)id, (unsigned long long)a, (unsigned long long)b, in_ours);
    abort();
  }
}

static void* churn(void* arg) {  // another thread that picks up flushed blocks
  uint64_t base = (uint64_t)(uintptr_t)arg << 40, next = 1;
  void* p[N] = {0}; size_t sz[N]; uint64_t id[N]; uint32_t r = 777;
  while (!stop) {
    r = r * 1103515245 + 12345;
    unsigned i = (r >> 8) % N;
    if (p[i]) check(p[i], sz[i], id[i]), free(p[i]);
    sz[i] = 16 + ((r >> 16) % 8) * 16;
    p[i] = malloc(sz[i]); id[i] = base | next++; stamp(p[i], sz[i], id[i]);
    if ((next & 1023) == 0) usleep(100);
  }
  return NULL;
}

static void* worker(void* arg) {
  (void)arg;
  void* p[N] = {0}; size_t sz[N]; uint64_t id[N]; uint64_t next = 1; uint32_t r = 12345;
  static void* w[20000];
  for (int i = 0; i < 20000; ++i) w[i] = malloc(16 + (i % 8) * 16);
  for (int i = 0; i < 20000; ++i) free(w[i]);
  while (!stop) {
    r = r * 1103515245 + 12345;
    unsigned i = (r >> 8) % N;
    if (p[i]) check(p[i], sz[i], id[i]), free(p[i]);
    sz[i] = 16 + ((r >> 16) % 8) * 16;
    p[i] = malloc(sz[i]); id[i] = next++; stamp(p[i], sz[i], id[i]);
  }
  for (int i = 0; i < N; ++i) if (p[i]) check(p[i], sz[i], id[i]), free(p[i]);
  return NULL;
}

// Linked with libhakozuna.a: all of its code is the hz_text section.
extern char __start_hz_text[] __attribute__((weak));
extern char __stop_hz_text[] __attribute__((weak));

static void find_our_text(void) {
  if (__start_hz_text && __stop_hz_text) {
    lo = (uintptr_t)__start_hz_text, hi = (uintptr_t)__stop_hz_text;
    return;
  }
  FILE* maps = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, maps)) {
    unsigned long a, b;
    char perm[8], path[300] = "";
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %299s", &a, &b, perm, path) >= 3 && perm[2] == 'x' && strstr(path, "hakozuna")) lo = a, hi = b;
  }
  fclose(maps);
  if (lo == hi) {  // no interrupted malloc would ever be seen: the test would prove nothing
    fprintf(stderr, "our code not found (neither libhakozuna.so mapped nor hz_text linked)\n");
    exit(3);
  }
}

// Starts the worker and a churn thread, signals the worker (SIGUSR1) every
// 300 us for the given seconds, and whenever its handler sleeps (*sleeping)
// lets it sleep through several purger ticks, then release() wakes it.
static int drive(int seconds, volatile int* sleeping, volatile unsigned long* handled, void (*release)(pthread_t)) {
  pthread_t worker_t, c;
  pthread_create(&worker_t, NULL, worker, NULL);
  pthread_create(&c, NULL, churn, (void*)1);
  usleep(50000);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= seconds) break;
    pthread_kill(worker_t, SIGUSR1);
    usleep(300);
    if (*sleeping) release(worker_t);
  }
  stop = 1;
  pthread_join(worker_t, NULL);
  pthread_join(c, NULL);
  printf("ok: %lu signals, %lu sleeps mid-malloc\n", *handled, in_ours);
  return 0;
}
