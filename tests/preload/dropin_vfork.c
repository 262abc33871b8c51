/* The program's first malloc comes in a vfork child, which frees 230 MB of
 * large blocks (enough kept to start the purger) and execs. The purger
 * started there ran on the parent's memory and died at the exec: glibc then
 * counted a thread the parent did not have, so the parent's last
 * pthread_exit ended the process without exit(): its buffered stdout and its
 * atexit handlers were lost (break-it helper, thirteenth session, 20 of 20).
 * Prints "dropin_vfork ok" from an atexit handler, after a buffered line. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void bye(void) {
  fflush(stdout);
  static const char ok[] = "dropin_vfork ok\n";
  if (write(1, ok, sizeof ok - 1) < 0) _exit(3);
}

static void* worker(void* a) {
  usleep(100 * 1000);
  printf("worker done\n");
  return a;
}

int main(void) {
  atexit(bye);
  pid_t pid = vfork();
  if (pid == 0) {
    void* v[20];
    for (int i = 0; i < 20; ++i) {
      v[i] = malloc((size_t)(2 + i) << 20);
      if (!v[i]) _exit(2);
      memset(v[i], 1, (size_t)(2 + i) << 20);
    }
    for (int i = 0; i < 20; ++i) free(v[i]);
    execl("/bin/true", "true", (char*)NULL);
    _exit(127);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "the vfork child failed\n");
    return 1;
  }
  printf("buffered line from main\n");
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL)) return 1;
  pthread_exit(NULL);
}
