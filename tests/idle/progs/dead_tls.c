// A thread whose first allocation comes in the last round of pthread key
// destructors (PTHREAD_DESTRUCTOR_ITERATIONS = 4) gets a cache that no
// destructor tears down; idle::attach() recorded the addresses of its TLS
// t_sizes/t_bins. The thread exits, its stack (which holds its static TLS)
// is unmapped, and the purger's attempt reads and writes *st.sizes and
// *st.bins in the dead thread's TLS: SIGSEGV in the purger. (With a stack
// that glibc reuses for a new thread instead, the purger writes the dead
// cache's tables into the new thread's t_sizes/t_bins.)
// Run: HAKOZUNA_PURGE_DELAY_MS=8 LD_PRELOAD=.../libhakozuna.so ./dead_tls
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static pthread_key_t key;
static __thread int rounds;

static void destructor(void* v) {
  if (++rounds < 4) {
    pthread_setspecific(key, v);  // again next round
    return;
  }
  // Round 4, the last: this thread's first allocation.
  void* p[8];
  for (int i = 0; i < 8; ++i) p[i] = malloc(64);
  for (int i = 0; i < 8; ++i) free(p[i]);  // the cache holds blocks
}

static void* warm(void* arg) {  // a second cache and a bin overflow: starts the purger
  static void* w[20000];
  for (int i = 0; i < 20000; ++i) w[i] = malloc(64);
  for (int i = 0; i < 20000; ++i) free(w[i]);
  return arg;
}

static void* thread_main(void* arg) {
  pthread_setspecific(key, arg);  // no allocation in the thread body
  return NULL;
}

int main(void) {
  void* volatile first = malloc(1);  // the allocator's own key first: ours must come after it
  free(first);
  pthread_key_create(&key, destructor);
  pthread_t h;
  pthread_create(&h, NULL, warm, NULL);
  pthread_join(h, NULL);
  size_t size = 1 << 20;
  void* stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, size);  // glibc puts the thread's TLS at its top
  pthread_t t;
  pthread_create(&t, &attr, thread_main, (void*)1);
  pthread_join(t, NULL);
  munmap(stack, size);
  sleep(1);
  printf("ok: still alive\n");
  return 0;
}
