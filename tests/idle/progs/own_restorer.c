// A handler installed with its own restorer (raw rt_sigaction + SA_RESTORER,
// as runtimes that bypass libc's sigaction do) interrupts malloc/free and
// sleeps (nanosleep, handler mask in force: a live frame by every rule). While
// it sleeps, the program sets the signal to SIG_IGN (shutdown, a handler
// swap): find_restorers() no longer lists the frame's restorer, the frame is
// invisible to the scan, and the purger takes the cache mid-malloc.
//   uninstall: set SIG_IGN while the handler sleeps (fails)
//   keep:      leave the handler installed (control: passes)
// Run: HAKOZUNA_PURGE_DELAY_MS=4 LD_PRELOAD=$L ./own_restorer uninstall 10
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "stamp_workers.h"

extern void my_restorer(void);
__asm__(".text\n.globl my_restorer\nmy_restorer:\n mov $15, %eax\n syscall\n hlt\n");

struct ksa { void* handler; unsigned long flags; void* restorer; uint64_t mask; };
static volatile int sleeping, release;

static void handler(int s, siginfo_t* si, void* ucv) {
  (void)s; (void)si;
  if (!interrupted_ours(ucv)) return;  // only when malloc/free is interrupted
  sleeping = 1;
  struct timespec ts = {0, 1000 * 1000};
  while (!release) nanosleep(&ts, NULL);
  release = 0;
  sleeping = 0;
}

static void install(void* h) {
  struct ksa k = {h, SA_SIGINFO | 0x04000000 /* SA_RESTORER */, (void*)my_restorer, 0};
  if (syscall(SYS_rt_sigaction, SIGUSR1, &k, NULL, 8)) perror("rt_sigaction"), exit(2);
}

static int uninstall;

static void release_handler(pthread_t worker_t) {
  (void)worker_t;
  if (uninstall) install((void*)SIG_IGN);
  usleep(15000);
  release = 1;
  while (sleeping) usleep(100);
  install((void*)handler);
}

int main(int argc, char** argv) {
  uninstall = argc > 1 && !strcmp(argv[1], "uninstall");
  int seconds = argc > 2 ? atoi(argv[2]) : 10;
  find_our_text();
  install((void*)handler);
  return drive(seconds, &sleeping, &handled, release_handler);
}
