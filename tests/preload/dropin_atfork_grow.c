/* A thread registers 1 000 fork handlers while the main thread forks in a
 * loop. glibc grows its list of handlers (a realloc: our malloc) with its
 * atfork lock held, and lets that lock go around each prepare handler: a
 * registration could take it while our prepare handler, the last, held
 * every lock of the allocator, and its realloc spun on them while fork
 * waited for the atfork lock (a break-it helper's program: 8 of 40 runs
 * hung preloaded, 17 of 40 linked; glibc 0 of 40). 40 rounds, each in a
 * child of its own (a fresh list), each given 10 s. Prints
 * "atfork_grow ok". */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_done;
static void noop(void) {}
static void* registrar(void* arg) {
  for (int i = 0; i < 1000; i++)
    if (pthread_atfork(noop, noop, noop) != 0) return NULL;
  atomic_store(&g_done, 1);
  return arg;
}

static int round_in_child(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, registrar, &g_done) != 0) return 2;
  while (!atomic_load(&g_done)) {
    pid_t c = fork();
    if (c < 0) return 3;
    if (c == 0) _exit(0);
    if (waitpid(c, NULL, 0) != c) return 4;
  }
  void* r = NULL;
  pthread_join(t, &r);
  return r ? 0 : 5;
}

int main(void) {
  for (int round = 0; round < 40; round++) {
    pid_t c = fork();  /* single-threaded here */
    if (c < 0) return 1;
    if (c == 0) _exit(round_in_child());
    int st = 0, waited = 0;
    while (waitpid(c, &st, WNOHANG) == 0) {
      if (++waited > 1000) {  /* 10 s */
        kill(c, SIGKILL);
        waitpid(c, &st, 0);
        printf("atfork_grow: round %d hung\n", round);
        return 1;
      }
      struct timespec ts = {0, 10 * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("atfork_grow: round %d failed (status %d)\n", round, st);
      return 1;
    }
  }
  puts("atfork_grow ok");
  return 0;
}
