// A large block freed, purged by the decay (delay 1 ms) outside the heap's
// lock, and asked for again at once, with the arena limited to little more
// than it: the malloc must wait for the purge, not fail with ENOMEM while the
// memory sits free (out of the lists while being madvised). A break-it
// helper's program: 80-85 of 100 failed before the fix.
// Run: HAKOZUNA_ARENA_SIZE=256M HAKOZUNA_PURGE_DELAY_MS=1 ./purge_enomem [MiB [iterations [threaded]]]
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* idle(void* a) {
  pause();
  return a;
}

int main(int argc, char** argv) {
  size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 200) << 20;
  int iters = argc > 2 ? atoi(argv[2]) : 30;
  if (argc > 3 && atoi(argv[3])) {  // a second thread: the purger runs
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    free(malloc(64));
  }
  int fails = 0;
  srand(7);
  for (int i = 0; i < iters; i++) {
    char* p = malloc(size);
    if (!p) {
      if (++fails < 4) fprintf(stderr, "iteration %d: malloc(%zu) failed, errno %d\n", i, size, errno);
      usleep(2000);
      continue;
    }
    memset(p, i, size);
    __asm__ volatile("" ::"r"(p) : "memory");
    free(p);
    usleep(rand() % 3000);
  }
  printf("%d of %d mallocs failed\n", fails, iters);
  return fails ? 1 : 0;
}
