// A main that ends with pthread_exit() in a process where the purger runs
// (a second thread allocated): the process must end as soon as its last
// thread does (main, or a worker that outlives it), not at
// the purger's next tick (15 s at the 60 s delay this test sets; 1.25 s at
// the default 5 s). A child does the work; the parent times it.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void* worker(void* a) {
  void* v[200];
  for (int i = 0; i < 200; i++) { v[i] = malloc(1 << 20); memset(v[i], 1, 1 << 20); }
  for (int i = 0; i < 200; i++) free(v[i]);
  return a;
}

int main(int argc, char** argv) {
  int threaded = argc > 1 && strcmp(argv[1], "threaded") == 0;
  int fd[2];
  if (pipe(fd)) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    // A second thread that allocates: the purger starts at its exit.
    void* keep = malloc(64);
    pthread_t first;
    pthread_create(&first, NULL, worker, keep);
    pthread_join(first, NULL);
    if (threaded) {  // the last thread to go is a worker, main went first
      pthread_t t;
      pthread_create(&t, NULL, worker, NULL);
      pthread_detach(t);
    } else {
      worker(NULL);
    }
    double t = now_s();
    if (write(fd[1], &t, sizeof t) != sizeof t) _exit(3);
    pthread_exit(NULL);
  }
  close(fd[1]);
  double sent = 0;
  if (read(fd[0], &sent, sizeof sent) != sizeof sent) return 4;
  int status = 0;
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(10000);
  double waited = now_s() - sent;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    fprintf(stderr, "the process lived %.1f s after main's pthread_exit (and its worker's end)\n", waited);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child status %d\n", status);
    return 1;
  }
  printf("ended %.3f s after main's pthread_exit\n", waited);
  return waited < 3.0 ? 0 : 1;
}
