// pthread_cancel of a thread that allocates under arena exhaustion.
// The exhaustion sequence (idle::take_all_now) calls open()/read()/close()
// (decide(), main_stack_top(), sleeps_outside()): cancellation points. A
// deferred cancel pending on the allocating thread is acted on inside malloc,
// in the middle of an attempt on another thread's cache: the library is built
// with -fno-exceptions, so no destructor runs: g_lock and the target's
// IdleState lock stay locked, and the target's kStopped flag and emptied
// t_sizes/t_bins are never restored. Here: B is cancelled in the open() of
// /proc/self/task/N/syscall for another cache of the batch; A, whose
// IdleState lock pick() took for the same batch, spins forever in
// idle::detach() when it exits (the thread under attempt would spin in
// idle::on_flag at its next malloc); the purger spins on g_lock at its next
// tick. (With the purger not yet started, B is cancelled in decide()'s open()
// instead, g_lock stays held, and idle return is dead for the process.)
// And B's malloc must return: no cancellation point may act inside it (the
// exhaustion sequence's patient retry slept in libc's nanosleep, one).
// Run: HAKOZUNA_ARENA_SIZE=64M HAKOZUNA_PURGE_DELAY_MS=60000 LD_PRELOAD=.../libhakozuna.so ./cancel_exhaustion
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int go[2];
static volatile int filled, b_returned;

static size_t size_of(unsigned i) { return 1024 + (i * 2654435761u) % (31 * 1024); }

static void fill_and_free(void) {
  static void* blocks[100000];
  size_t n = 0, bytes = 0;
  for (unsigned i = 0; bytes < (24u << 20); ++i) {
    size_t s = size_of(i);
    void* p = malloc(s);
    if (!p) break;
    memset(p, 0x5a, s);
    blocks[n++] = p;
    bytes += s;
  }
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
}

static void* sleeper(void* arg) {
  (void)arg;
  char c;
  for (int round = 0; round < 2; ++round) {
    fill_and_free();
    __atomic_store_n(&filled, round + 1, __ATOMIC_SEQ_CST);
    read(go[0], &c, 1);  // sleeps outside the allocator
  }
  fprintf(stderr, "A: woke, calling malloc\n");
  free(malloc(100));
  fprintf(stderr, "A: malloc returned\n");
  return NULL;
}

// Allocates 1 MiB blocks until ENOMEM, then frees them.
static size_t exhaust(void) {
  static void* got[1024];
  size_t n = 0;
  while (n < 1024 && (got[n] = malloc(1 << 20))) memset(got[n++], 1, 1 << 20);
  for (size_t i = 0; i < n; ++i) free(got[i]);
  return n;
}

static void* allocator(void* arg) {
  (void)arg;
  pthread_cancel(pthread_self());  // deferred: pending until a cancellation point
  size_t n = exhaust();           // malloc and memset only: none of them is one
  b_returned = 1;                  // (its fprintf below is one)
  fprintf(stderr, "B: ENOMEM after %zu MiB, not cancelled\n", n);
  return NULL;
}

static void on_alarm(int s) {
  (void)s;
  static const char m[] = "TIMEOUT: A hangs (its exit spins in idle::detach on a lock the cancelled thread held)\n";
  write(2, m, sizeof m - 1);
  _exit(3);
}

int main(void) {
  pipe(go);
  pthread_t a, b;
  pthread_create(&a, NULL, sleeper, NULL);
  while (__atomic_load_n(&filled, __ATOMIC_SEQ_CST) < 1) usleep(1000);
  usleep(20000);
  fprintf(stderr, "main: first exhaustion, %zu MiB\n", exhaust());  // decides idle return, takes A's cache
  write(go[1], "x", 1);
  while (__atomic_load_n(&filled, __ATOMIC_SEQ_CST) < 2) usleep(1000);
  usleep(20000);
  pthread_create(&b, NULL, allocator, NULL);
  void* r;
  pthread_join(b, &r);
  fprintf(stderr, "B: %s\n", b_returned ? "returned" : "cancelled inside malloc");
  if (!b_returned) return 4;  // malloc is no cancellation point (its retry's nanosleep was)
  signal(SIGALRM, on_alarm);
  alarm(5);
  write(go[1], "x", 1);
  pthread_join(a, NULL);
  fprintf(stderr, "ok\n");
  return 0;
}
