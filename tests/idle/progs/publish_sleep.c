// A remote free that publishes a full group wakes an idle purger through
// libc's syscall(SYS_futex, FUTEX_WAKE): a call out of our code in the middle
// of the inline remote-free path (free_remote -> remote_stash_full ->
// publish -> wake_purger), with no idle::Busy. Whatever runs there (an
// interposed syscall(), a signal handler that lands in it) may sleep: the
// thread then sleeps in a system call outside our code, and the purger takes
// its cache between publish() and remote_stash_full's --rs.pending. The
// count wraps; the next remote free leaves pending at 0 with a group holding
// a block, which no flush (trim, teardown, the purger's) then publishes: the
// block does not go home (a teardown pools the cache with it). Fixed:
// remote_stash_full and remote_stash_add_retarget run under idle::Busy (the
// take is refused).
// Here syscall() is the program's own (forwards to libc's); when the victim
// thread wakes the purger through it, it sleeps 30 ms as a signal handler
// landing there would.
// Run: HAKOZUNA_PURGE_DELAY_MS=4 ./publish_sleep   (exit 1: the block was lost)
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long (*real_syscall)(long, ...);
static volatile int armed, hit;
static volatile pid_t victim;

long syscall(long nr, ...) {
  va_list ap;
  long a[6];
  va_start(ap, nr);
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  long r = real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (armed && nr == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE && real_syscall(SYS_gettid) == victim) {
    armed = 0;
    hit = 1;
    struct timespec ts = {0, 30 * 1000 * 1000};
    if (!getenv("PUBLISH_NO_SLEEP")) real_syscall(SYS_nanosleep, &ts, NULL);
  }
  return r;
}

// The purger sleeps on its futex (FUTEX_WAIT_PRIVATE): no tick until woken.
static int purger_tid;
static int purger_idle(void) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", purger_tid);
  int fd = (int)real_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
  if (fd < 0) return 0;
  long n = real_syscall(SYS_read, fd, buf, sizeof buf - 1);
  real_syscall(SYS_close, fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return strncmp(buf, "202 ", 4) == 0 && strstr(buf, " 0x80 0x1 ") != NULL;
}
static int find_purger(void) {
  DIR* d = opendir("/proc/self/task");
  struct dirent* e;
  int tid = 0;
  while ((e = readdir(d))) {
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && strncmp(comm, "hz-purge", 8) == 0) tid = atoi(e->d_name);
    fclose(f);
  }
  closedir(d);
  return tid;
}

enum { L = 64, SETS = 40 };  // 48-byte blocks publish by 64 (kRemoteFlushThreshold)
static void* group[SETS][L];
static void* opener[SETS];  // 80-byte: another group, so the cache holds blocks when the purger looks
static void* lost;          // 112-byte: the block that must come home
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void set_stage(int s) {
  pthread_mutex_lock(&mu);
  stage = s;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}
static void wait_stage(int s) {
  pthread_mutex_lock(&mu);
  while (stage < s) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void* owner(void* arg) {
  (void)arg;
  for (int s = 0; s < SETS; ++s) {
    for (int i = 0; i < L; ++i) group[s][i] = malloc(48);
    opener[s] = malloc(80);
  }
  lost = malloc(112);
  set_stage(1);
  wait_stage(2);
  // Everything the victim freed for us is home by now (its trim, the purger's
  // takes): the 112-byte block comes back before new runs are carved.
  static void* got[20000];
  int found = 0;
  for (int i = 0; i < 20000 && !found; ++i) {
    got[i] = malloc(112);
    found = got[i] == lost;
  }
  printf("the victim's last remote free %s\n", found ? "came home" : "NEVER CAME HOME (stranded in its remote stash)");
  return (void*)(intptr_t)found;
}

static void* victim_main(void* arg) {
  (void)arg;
  victim = (pid_t)real_syscall(SYS_gettid);
  wait_stage(1);
  struct timespec ms = {0, 1000 * 1000};
  int set = 0;
  for (int tries = 0; tries < 4000 && set < SETS && !hit; ++tries) {
    // A slow path that changes nothing (an empty stash): clears the wake
    // flag arm_wake() left, so that the remote frees below take the inline
    // path. Then wait for the purger to sleep on its futex.
    malloc_trim(0);
    nanosleep(&ms, NULL);
    if (!purger_idle()) continue;
    free(opener[set]);
    armed = 1;
    for (int i = 0; i < L; ++i) free(group[set][i]);  // the last one publishes: wakes the purger
    armed = 0;
    set++;
  }
  fprintf(stderr, "victim: %s after %d sets\n", hit ? "slept inside publish" : "never slept inside publish", set);
  free(lost);     // a fresh group
  malloc_trim(0); // publishes every group: the block goes home
  nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);  // the purger takes what is left
  set_stage(2);
  nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
  return NULL;
}

int main(void) {
  real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  pthread_t o, v;
  pthread_create(&v, NULL, victim_main, NULL);
  pthread_create(&o, NULL, owner, NULL);
  wait_stage(1);  // both threads set up: the purger may start
  // Frees past a bin's limit start the purger (a second thread exists).
  static void* p[4096];
  for (int i = 0; i < 4096; ++i) p[i] = malloc(32);
  for (int i = 0; i < 4096; ++i) free(p[i]);
  for (int i = 0; i < 200 && !(purger_tid = find_purger()); ++i) usleep(1000);
  if (!purger_tid) {
    fprintf(stderr, "no purger thread\n");
    return 2;
  }
  void* found;
  pthread_join(o, &found);
  pthread_join(v, NULL);
  if (!hit) {
    fprintf(stderr, "(the victim never slept inside publish: nothing shown)\n");
    return 0;
  }
  return found ? 0 : 1;
}
