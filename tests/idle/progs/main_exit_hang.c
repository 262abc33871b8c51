// main() ends with pthread_exit() once the other threads are done: the process
// should exit when its last thread does. The purger thread (hz-purge) never
// exits and blocks every signal but SIGKILL/SIGSTOP, so the process lives on
// for good (a zombie leader plus hz-purge asleep on its futex); SIGTERM and
// SIGINT stay pending. Only SIGKILL ends it.
// Run: LD_PRELOAD=$L timeout -k 1 5 ./main_exit_hang; echo $?   (137 = hung, killed; glibc: 0)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void* churn(void* a) {
  static void* w[20000];  // enough frees to start the purger (a thread exists)
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 20000; ++i) w[i] = malloc(48);
    for (int i = 0; i < 20000; ++i) free(w[i]);
  }
  return a;
}
int main(void) {
  pthread_t th; pthread_create(&th, NULL, churn, NULL); pthread_join(th, NULL);
  churn(NULL);
  fprintf(stderr, "main: pthread_exit\n");
  pthread_exit(NULL);
}
