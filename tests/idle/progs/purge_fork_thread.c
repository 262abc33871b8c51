// Default options. A single-threaded program frees an 8 MiB block (a decay
// pass runs inline) and forks: the fork skips the locks, so the child puts
// its parent's purges back lazily, at its first purge. In the child, thread
// T frees 40 MiB blocks over the keep bound (its spans leave the lists and
// are madvised outside the lock) while main calls malloc_trim(0), the
// child's first purge. T's span was linked in the child and is T's to put
// back: the relist must leave it alone. Before the fix it was listed twice:
// two live 40 MiB blocks at one address in 15-20 children of 20 (a third
// break-it helper's program).
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NB 4
#define BS (40u << 20)
static volatile int freeing = -1;

static void* freer(void* a) {
  char* b[NB];
  for (int i = 0; i < NB; i++) {
    b[i] = malloc(BS);
    if (!b[i]) _exit(7);
    memset(b[i], 1, BS);
  }
  for (int i = 0; i < NB; i++) {
    __atomic_store_n(&freeing, i, __ATOMIC_SEQ_CST);
    free(b[i]);
  }
  return a;
}

static int child(unsigned delay_us) {
  pthread_t t;
  pthread_create(&t, 0, freer, 0);
  while (__atomic_load_n(&freeing, __ATOMIC_SEQ_CST) < 2) {
  }
  if (delay_us) usleep(delay_us);
  malloc_trim(0);
  pthread_join(t, 0);
  // Blocks stamped through: two at one address overwrite each other.
  enum { N = 6 };
  size_t* p[N];
  for (int i = 0; i < N; i++) {
    p[i] = malloc(BS);
    if (!p[i]) return 4;
    for (size_t k = 0; k < BS / 8; k += 512) p[i][k] = (size_t)i + 1;
  }
  for (int i = 0; i < N; i++)
    for (size_t k = 0; k < BS / 8; k += 512)
      if (p[i][k] != (size_t)i + 1) return 5;
  return 0;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int bad = 0;
  for (int i = 0; i < n; i++) {
    char* volatile q = malloc(8 << 20);
    memset(q, 1, 8 << 20);
    free(q);
    pid_t c = fork();
    if (c == 0) _exit(child((unsigned)(i % 8) * 100));
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
      if (++bad < 4) fprintf(stderr, "child %d: status %d\n", i, st);
    }
  }
  printf("%d children, %d bad\n", n, bad);
  return bad ? 1 : 0;
}
