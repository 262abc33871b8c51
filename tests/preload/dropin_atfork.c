/* A C program whose first malloc is in its own pthread_atfork prepare
 * handler, which keeps a large block until the parent and child handlers free
 * it. Its child starts a thread, then forks again (now multi-threaded, so the
 * allocator's own handlers lock its heap). Ours were registered at the first
 * allocation, after the program's: they ran first at that second fork, and
 * the program's handler spun on the heap lock for good. Prints
 * "atfork_first ok". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void* volatile g_block;

static void prepare(void) {
  g_block = malloc(300 << 10);
  if (g_block) memset(g_block, 1, 300 << 10);
}
static void release(void) {
  free(g_block);
  g_block = NULL;
}
static void* worker(void* arg) {
  for (int i = 0; i < 4; ++i) {
    char* p = malloc(2 << 20);
    if (p) p[0] = 1;
    free(p);
  }
  return arg;
}

int main(void) {
  pthread_atfork(prepare, release, release);
  pid_t c = fork();
  if (c < 0) return 2;
  if (c == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) _exit(3);
    pthread_join(t, NULL);
    pid_t g = fork();
    if (g == 0) _exit(0);
    int st = 0;
    _exit(g > 0 && waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4);
  }
  int st = 0;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "atfork_first: child failed (status %d)\n", st);
    return 1;
  }
  puts("atfork_first ok");
  return 0;
}
