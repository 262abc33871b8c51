// fork() while the decay purges a free span outside the heap's lock: the
// child must get the span back (it has no purger to put it back on the
// lists), so that it can allocate the memory its parent freed. A break-it
// helper's program: 33-37 children of 40 never could before the fix.
// Run: HAKOZUNA_ARENA_SIZE=256M HAKOZUNA_PURGE_DELAY_MS=1 ./purge_fork [MiB [iterations]]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 200) << 20;
  int iters = argc > 2 ? atoi(argv[2]) : 20;
  int lost = 0, forked = 0;
  srand(7);
  for (int i = 0; i < iters; i++) {
    char* p = malloc(size);
    if (!p) {  // the parent's own retry is purge_enomem's business
      usleep(50000);
      continue;
    }
    memset(p, i, size);
    __asm__ volatile("" ::"r"(p) : "memory");
    free(p);
    usleep(1000 + rand() % 2000);
    pid_t c = fork();
    if (c == 0) {
      for (int k = 0; k < 20; k++) {  // 200 ms: a purge in flight ends long before
        char* q = malloc(size);
        if (q) {
          q[0] = 1;
          _exit(0);
        }
        usleep(10000);
      }
      _exit(3);
    }
    int st;
    waitpid(c, &st, 0);
    forked++;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3) lost++;
  }
  printf("%d of %d children could never allocate %zu MiB\n", lost, forked, size >> 20);
  return lost || !forked ? 1 : 0;
}
