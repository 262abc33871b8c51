// A handler that interrupts malloc/free and then sleeps with the interrupted
// signal mask in force: the frame's saved mask equals the thread's SigBlk, so
// no_frame_in_our_code() takes the live frame for a dead one and the purger
// takes the cache while the interrupted fast path is half done.
//   suspend: sigsuspend(&uc->uc_sigmask) -- "wait for the next signal with the
//            mask I was interrupted under" (pause/checkpoint/stop handlers)
//   empty:   sigsuspend(empty set) on a thread whose mask is empty (the usual)
//   unblock: sigprocmask(SIG_SETMASK, &uc->uc_sigmask) then nanosleep
//   control: nanosleep with the handler's mask (must pass)
// Run: HAKOZUNA_PURGE_DELAY_MS=4 LD_PRELOAD=$L ./handler_mask suspend 10
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "stamp_workers.h"

static volatile int sleeping;
static int mode;  // 0 suspend 1 empty 2 unblock 3 control

static void wake(int s) { (void)s; }

static void handler(int s, siginfo_t* si, void* ucv) {
  (void)s; (void)si;
  ucontext_t* uc = ucv;
  if (!interrupted_ours(ucv)) return;  // only when malloc/free is interrupted
  sleeping = 1;
  if (mode == 0) {
    sigset_t m = uc->uc_sigmask;
    sigdelset(&m, SIGUSR2);
    sigsuspend(&m);
  } else if (mode == 1) {
    sigset_t m;
    sigemptyset(&m);
    sigsuspend(&m);
  } else {
    if (mode == 2) sigprocmask(SIG_SETMASK, &uc->uc_sigmask, NULL);
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (sleeping) nanosleep(&ts, NULL);
  }
  sleeping = 0;
}


static void release(pthread_t worker_t) {
  usleep(15000);  // several purger ticks at 2-8 ms
  if (mode < 2) pthread_kill(worker_t, SIGUSR2); else sleeping = 0;
  while (sleeping) usleep(100), (mode < 2 ? pthread_kill(worker_t, SIGUSR2) : 0);
}

int main(int argc, char** argv) {
  const char* m = argc > 1 ? argv[1] : "suspend";
  mode = !strcmp(m, "suspend") ? 0 : !strcmp(m, "empty") ? 1 : !strcmp(m, "unblock") ? 2 : 3;
  int seconds = argc > 2 ? atoi(argv[2]) : 10;
  Dl_info di; void* f = malloc(8); free(f);
  if (!dladdr((void*)dlsym(RTLD_DEFAULT, "malloc"), &di)) return 2;
  find_our_text();
  fprintf(stderr, "malloc in %s text %lx-%lx mode %s\n", di.dli_fname, (unsigned long)lo, (unsigned long)hi, m);
  struct sigaction sa; memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler; sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  sa.sa_handler = wake; sa.sa_flags = 0; sigaction(SIGUSR2, &sa, NULL);
  return drive(seconds, &sleeping, &handled, release);
}
