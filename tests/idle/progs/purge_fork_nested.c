// main is in malloc_trim, purging a large span outside the heap's lock, when
// SIGALRM fires; the handler forks, and that child forks again from the same
// handler. The grandchild returns from the handler into the interrupted
// purge, which lists the span again: its relist (at the fork, or the next
// purge) must not have put it back already. Before the fork generations
// were chained, 10 of 10 grandchildren hung in a cycle of the free lists
// (the Debug build: "a purged span not counted as purging"); a break-it
// helper's program (a grandchild still running after 5 s counts as hung,
// result 99). Each grandchild allocates 12 blocks of 64 MiB, stamps
// them and checks the stamps (two blocks at one address overwrite each other).
// A thread that only sleeps makes the fork the locked kind (a purger).
// Run: ./purge_fork_nested [rounds [threaded]]
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64u << 20)
#define NB 4
enum { kGot = 12 };
static volatile sig_atomic_t role = 0, fired = 0;  // role 2: the grandchild

static void on_alarm(int sig) {
  (void)sig;
  fired = 1;
  pid_t p = fork();
  if (p != 0) return;  // the parent
  pid_t g = fork();
  if (g == 0) {
    role = 2;  // goes on from the interrupted code
    return;
  }
  int st = 0;
  for (int i = 0; i < 500 && waitpid(g, &st, WNOHANG) == 0; ++i) {  // 5 s at most
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
    if (i == 499) {  // hung
      kill(g, SIGKILL);
      waitpid(g, &st, 0);
      _exit(99);
    }
  }
  _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
}

static void* sleeper(void* a) {
  for (;;) pause();
  return a;
}

static int check(void) {
  size_t* p[kGot];
  int n = 0;
  for (; n < kGot; n++) {
    p[n] = malloc(BLOCK);
    if (!p[n]) break;
    for (size_t k = 0; k < BLOCK / 8; k += 512) p[n][k] = (size_t)n + 1;
  }
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < BLOCK / 8; k += 512)
      if (p[i][k] != (size_t)i + 1) return 50;
  return n;
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 6;
  int threaded = argc > 2 ? atoi(argv[2]) : 0;
  if (threaded) {
    pthread_t t;
    pthread_create(&t, 0, sleeper, 0);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  srand(getpid());
  int bad = 0, runs = 0;
  for (int i = 0; i < rounds; i++) {
    void* b[NB];
    for (int k = 0; k < NB; k++) memset(b[k] = malloc(BLOCK), 1, BLOCK);
    for (int k = 0; k < NB; k++) free(b[k]);
    fired = 0;
    struct itimerval it = {{0, 0}, {0, 100 + rand() % 3000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (!fired) malloc_trim(0);
    if (role == 2) _exit(check());
    int st;
    if (wait(&st) < 0) continue;
    runs++;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 200;
    if (code != kGot) {
      printf("round %d: grandchild result %d (%d: whole)\n", i, code, kGot);
      bad++;
      break;  // one is enough (a hang costs 5 s)
    }
  }
  printf("%d rounds, %d bad\n", runs, bad);
  return bad != 0 || runs == 0;
}
