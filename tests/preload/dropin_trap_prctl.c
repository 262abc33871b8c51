/* A sandbox traps prctl to its SIGSYS handler (SECCOMP_RET_TRAP), which makes
 * it fail with ENOSYS; the program's threads malloc and free, so the purger
 * starts and names itself (prctl). The purger blocked every signal, so the
 * kernel forced that SIGSYS on the process and killed it (break-it helper,
 * thirteenth session); glibc's malloc makes no such call. Prints
 * "dropin_trap_prctl ok" (and how many prctl calls were trapped). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "seccomp_deny.h"

static volatile sig_atomic_t trapped;

static void on_sigsys(int sig, siginfo_t* info, void* ctx) {
  (void)sig, (void)info;
  ((ucontext_t*)ctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
  trapped = trapped + 1;
}

static void* worker(void* a) {
  for (int r = 0; r < 20; ++r) {
    void* v[64];
    for (int i = 0; i < 64; ++i) {
      v[i] = malloc((size_t)(i + 1) << 12);
      if (!v[i]) abort();
      memset(v[i], r, (size_t)(i + 1) << 12);
    }
    for (int i = 0; i < 64; ++i) free(v[i]);
  }
  return a;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  if (sigaction(SIGSYS, &sa, NULL) || trap_syscall(SYS_prctl)) return 1;
  pthread_t t[2];
  for (int i = 0; i < 2; ++i)
    if (pthread_create(&t[i], NULL, worker, NULL)) return 1;
  for (int i = 0; i < 2; ++i) pthread_join(t[i], NULL);
  usleep(100 * 1000);
  printf("dropin_trap_prctl ok\n");
  fprintf(stderr, "prctl trapped %d times\n", (int)trapped);
  return 0;
}
