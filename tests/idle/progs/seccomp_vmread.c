// A program that hardens itself with seccomp: no process_vm_readv /
// process_vm_writev / ptrace (it never needs them; an exploit might).
// The purger reads sleeping threads' stacks with process_vm_readv (whenever
// a signal handler is installed, and glibc always installs SIGSETXID's):
// the whole process is killed with SIGSYS by the first idle-return attempt.
// Run: HAKOZUNA_PURGE_DELAY_MS=8 LD_PRELOAD=.../libhakozuna.so ./seccomp_vmread
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int go[2];

static void harden(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_writev, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
    perror("seccomp");
    exit(2);
  }
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
