// A program that hardens itself with seccomp: no process_vm_readv /
// process_vm_writev / ptrace (it never needs them; an exploit might).
// The purger reads sleeping threads' stacks with process_vm_readv (whenever
// a signal handler is installed, and glibc always installs SIGSETXID's):
// the whole process is killed with SIGSYS by the first idle-return attempt.
// Run: HAKOZUNA_PURGE_DELAY_MS=8 LD_PRELOAD=.../libhakozuna.so ./seccomp_vmread
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../preload/seccomp_deny.h"

static int go[2];

static void harden(void) {
  static const unsigned kDenied[] = {SYS_process_vm_readv, SYS_process_vm_writev, SYS_ptrace};
  if (filter_syscalls(kDenied, 3, SECCOMP_RET_KILL_PROCESS)) exit(2);
}

static void* worker(void* arg) {
  (void)arg;
  static void* w[20000];
  for (int i = 0; i < 20000; ++i) w[i] = malloc(64 + (i % 16) * 64);
  for (int i = 0; i < 20000; ++i) free(w[i]);
  char c;
  read(go[0], &c, 1);  // sleeps holding its cache
  return NULL;
}

int main(void) {
  harden();
  pipe(go);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  sleep(2);
  write(go[1], "x", 1);
  pthread_join(t, NULL);
  printf("ok: still alive\n");
  return 0;
}
