// A single-threaded program whose purger (started by 256 MiB of large
// blocks kept) purges outside the heap's lock, while main, inside the
// allocator (mallinfo2: the heap lock, so the solo gate), takes a SIGALRM
// whose handler forks: the fork skips the locks and the child puts the
// purger's spans back lazily, at its first purge. That purge runs on a new
// thread with a 64 KiB stack, which glibc serves from its cache with the
// purger's stack, TLS and purge token. Every child must then get as many
// 32 MiB blocks as the others: before the fix, 3-4 children of 40 lost 256
// MiB for good (a break-it helper's program). Mode "twice": that thread
// forks a grandchild instead (a fork with the locks, from a thread with the
// dead purger's token), and the grandchild counts: 2-8 of 40 lost 256 MiB
// before the relist told the generations apart (a third helper's variant).
// Run: HAKOZUNA_ARENA_SIZE=1G HAKOZUNA_PURGE_DELAY_MS=1 ./purge_fork_handler [children [twice]]
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (32u << 20)
static volatile sig_atomic_t in_child = 0, forked = 0;
static volatile pid_t child_pid = 0;

static void on_alarm(int sig) {
  (void)sig;
  if (forked) return;
  pid_t p = fork();
  if (p == 0) in_child = 1;
  else child_pid = p;
  forked = 1;
}

static int twice = 0;

static int count_blocks(void) {
  int n = 0;
  while (n < 60 && malloc(BLOCK)) n++;
  return n;
}

static void* first_purge(void* a) {
  if (!twice) {
    malloc_trim(0);
    return a;
  }
  pid_t g = fork();
  if (g == 0) _exit(count_blocks());
  int st;
  waitpid(g, &st, 0);
  return (void*)(long)(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void child(void) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_t t;
  void* r;
  if (pthread_create(&t, &attr, first_purge, NULL)) _exit(100);
  pthread_join(t, &r);
  _exit(twice ? (int)(long)r : count_blocks());
}

int main(int argc, char** argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 40;
  twice = argc > 2 && strcmp(argv[2], "twice") == 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  int got[64] = {0}, children = 0, lo = 99, hi = 0;
  srand(7);
  for (int i = 0; i < iters; i++) {
    void* b[8];
    for (int k = 0; k < 8; k++) {
      b[k] = malloc(BLOCK);
      if (b[k]) memset(b[k], 1, BLOCK);
    }
    for (int k = 0; k < 8; k++) free(b[k]);
    forked = in_child = 0;
    child_pid = 0;
    struct itimerval it = {{0, 0}, {0, 200 + rand() % 4000}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (double t0 = now(); !forked && now() - t0 < 0.1;) {
      struct mallinfo2 mi = mallinfo2();
      __asm__ volatile("" ::"r"(&mi) : "memory");
    }
    if (in_child) child();
    if (!forked || child_pid <= 0) continue;
    int st;
    waitpid(child_pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) >= 60) {
      fprintf(stderr, "child %d: status %d\n", children, st);
      return 1;
    }
    int n = WEXITSTATUS(st);
    got[n]++, children++;
    lo = n < lo ? n : lo, hi = n > hi ? n : hi;
    usleep(20000);
  }
  printf("%d children; blocks of 32 MiB they got:", children);
  for (int i = 0; i < 64; i++)
    if (got[i]) printf(" %d (%dx)", i, got[i]);
  printf("\n");
  return children >= iters / 2 && lo == hi && hi > 0 ? 0 : 1;
}
