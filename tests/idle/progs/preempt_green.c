// A preemptive user-level scheduler: a timer signal interrupts a task in
// malloc/free, and the handler switches (swapcontext) to the scheduler,
// which sleeps on the thread's own stack before it resumes the task. The
// interrupted call's frames are on the task's stack, which the thread no
// longer runs on: idle return cannot see them there, so the swapcontext
// itself must keep the purger away from this thread's cache.
// Run: HAKOZUNA_PURGE_DELAY_MS=4 LD_PRELOAD=$L ./preempt_green 3
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "stamp_workers.h"

static ucontext_t sched_ctx, task_ctx;
static volatile int preempted, task_done;

static void handler(int s, siginfo_t* si, void* ucv) {
  (void)s; (void)si;
  if (!interrupted_ours(ucv)) return;  // only when malloc/free is interrupted
  preempted = 1;
  swapcontext(&task_ctx, &sched_ctx);  // resumed later, mid-malloc
}

static void task(void) {
  worker(NULL);
  task_done = 1;
}

static void* scheduler(void* arg) {
  (void)arg;
  size_t size = 1 << 20;
  void* stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) abort();
  getcontext(&task_ctx);
  task_ctx.uc_stack.ss_sp = stack;
  task_ctx.uc_stack.ss_size = size;
  task_ctx.uc_link = &sched_ctx;
  makecontext(&task_ctx, task, 0);
  while (!task_done) {
    swapcontext(&sched_ctx, &task_ctx);
    if (preempted) {  // the other tasks would run now; this one sleeps through purger ticks
      struct timespec ts = {0, 15 * 1000 * 1000};
      nanosleep(&ts, NULL);
      preempted = 0;
    }
  }
  munmap(stack, size);
  return NULL;
}

int main(int argc, char** argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 3;
  void* f = malloc(8); free(f);
  find_our_text();
  struct sigaction sa; memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler; sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t s, c;
  pthread_create(&s, NULL, scheduler, NULL);
  pthread_create(&c, NULL, churn, (void*)1);
  usleep(50000);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    if (!preempted) pthread_kill(s, SIGUSR1);  // let a sleeping scheduler sleep
    usleep(300);
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while (t.tv_sec - t0.tv_sec < seconds);
  stop = 1;
  pthread_join(s, NULL);
  pthread_join(c, NULL);
  printf("ok: %lu signals, %lu preemptions mid-malloc\n", handled, in_ours);
  return 0;
}
