/* Children made without fork handlers, where a purger must not start:
 *   clone  a clone(fn, SIGCHLD) child that uses a thread, then returns from
 *          fn (glibc ends it with SYS_exit: one thread). Given a purger (a
 *          fix tried this session adopted such a child's pid), it never
 *          ended: the parent's waitpid hung.
 *   vfork  main has ended with pthread_exit; a worker vforks, and the child
 *          frees 160 MB and 100 000 small blocks before _exit. With the
 *          leader a zombie, kcmp took the child for a copy: it started the
 *          purger in the parent's memory, and the parent's atexit handler
 *          and buffered stdout were lost.
 * Both from a break-it helper (thirteenth session, 3 of 3). Prints
 * "dropin_clone_child ok" (from an atexit handler, after a buffered line). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void* churn(void* a) {
  void** v = malloc(20000 * sizeof *v);
  if (!v) abort();
  for (int i = 0; i < 20000; ++i) v[i] = malloc(64);
  for (int i = 0; i < 20000; ++i) free(v[i]);
  free(v);
  return a;
}

static int clone_fn(void* a) {
  pthread_t t;
  if (pthread_create(&t, NULL, churn, NULL)) return 1;
  pthread_join(t, NULL);
  churn(a);
  return 0;
}

static void bye(void) {
  fflush(stdout);
  static const char ok[] = "dropin_clone_child ok\n";
  if (write(1, ok, sizeof ok - 1) < 0) _exit(3);
}

static void* vfork_worker(void* a) {
  usleep(50 * 1000);  /* main is gone by now */
  pid_t c = vfork();
  if (c == 0) {
    for (int i = 0; i < 20; ++i) {
      void* p = malloc(8 << 20);
      if (!p) _exit(2);
      memset(p, 1, 8 << 20);
      free(p);
    }
    churn(NULL);
    _exit(0);
  }
  int st;
  if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) abort();
  printf("vfork child done\n");  /* buffered: flushed by exit() */
  return a;
}

int main(void) {
  free(malloc(16));
  static char stack[1 << 20];
  pid_t c = clone(clone_fn, stack + sizeof stack, SIGCHLD, NULL);
  int st;
  if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) return 1;
  printf("clone child done\n");
  atexit(bye);
  pthread_t t;
  if (pthread_create(&t, NULL, vfork_worker, NULL)) return 1;
  pthread_exit(NULL);
}
