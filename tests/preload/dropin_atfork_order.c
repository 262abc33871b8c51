/* fork() in a multi-threaded program linked with a library that registered
 * its fork handlers first (dropin_atfork_lib.c; its prepare handler
 * allocates under its mutex), while two threads allocate, some of it under
 * that mutex. Prepare handlers run last registered first: hakozuna's, had it
 * registered after the library, would take its locks first, and the
 * library's handler then spun on them for good (a break-it helper's
 * program: 5 of 5 hung preloaded and linked; glibc takes its locks after
 * every handler). 200 forks; the child allocates and exits. Prints
 * "atfork_order ok". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void atfork_lib_work(size_t n);

static atomic_int g_stop;

static void* worker(void* arg) {
  unsigned s = (unsigned)(size_t)arg;
  while (!atomic_load(&g_stop)) {
    s = s * 1103515245u + 12345u;
    size_t n = 16 + (s >> 8) % (s & 1 ? 300000 : 2000);  /* small blocks and page spans */
    if (s & 2) {
      atfork_lib_work(n);
    } else {
      char* p = malloc(n);
      if (p) memset(p, 3, n < 64 ? n : 64);
      free(p);
    }
  }
  return NULL;
}

int main(void) {
  pthread_t t[2];
  for (int i = 0; i < 2; ++i)
    if (pthread_create(&t[i], NULL, worker, (void*)(size_t)(i + 1)) != 0) return 2;
  int bad = 0;
  for (int i = 0; i < 200 && !bad; ++i) {
    pid_t c = fork();
    if (c < 0) {
      bad = 1;
      break;
    }
    if (c == 0) {
      char* p = malloc(100000);
      if (p) memset(p, 4, 100000);
      free(p);
      _exit(p ? 0 : 3);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i < 2; ++i) pthread_join(t[i], NULL);
  if (bad) {
    fprintf(stderr, "atfork_order: a child failed\n");
    return 1;
  }
  puts("atfork_order ok");
  return 0;
}
