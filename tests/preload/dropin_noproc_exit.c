/* main ends with pthread_exit where /proc cannot be read (a seccomp filter
 * fails openat with EPERM, as a sandbox or a chroot without /proc does),
 * while two threads malloc and free large blocks. With no cache left, the
 * purger could not count the process's threads: it waited for good, and the
 * process never ended (SIGTERM stayed pending: the purger blocks every
 * signal). It must end, as with glibc, once the workers are done (break-it
 * helper, thirteenth session, 5 of 5). Linked with libgcc_s, which
 * pthread_exit would otherwise open. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_deny.h"

static void* worker(void* a) {
  void* v[20];
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 20; ++i) {
      v[i] = malloc((size_t)(i + 2) << 20);
      if (!v[i]) abort();
      memset(v[i], 1, 1 << 20);
    }
    for (int i = 0; i < 20; ++i) free(v[i]);
    usleep(50 * 1000);
  }
  printf("worker done\n");
  fflush(stdout);
  return a;
}

static void bye(void) { printf("dropin_noproc_exit ok\n"); }

int main(void) {
  if (deny_syscall(SYS_openat, EPERM)) return 1;
  atexit(bye);
  pthread_t t[2];
  for (int i = 0; i < 2; ++i)
    if (pthread_create(&t[i], NULL, worker, NULL)) return 1;
  pthread_exit(NULL);
}
