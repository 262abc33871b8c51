// A program that interposes open() (a logging/accounting wrapper guarded by a
// mutex; LD_PRELOAD shims do the same). idle_return.cpp calls open(), read()
// and close() through the PLT while an attempt has the target stopped
// (kStopped set, t_sizes/t_bins emptied): the purger blocks in the program's
// open() on a mutex held by the target thread, which sleeps in read() with
// it held and, once woken, waits in idle::on_flag at its next malloc for the
// purger: deadlock. (os.cpp reads /proc with raw syscalls for this reason.)
// Run: HAKOZUNA_PURGE_DELAY_MS=8 LD_PRELOAD=.../libhakozuna.so ./interposed_open
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long files_opened;

int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & O_CREAT) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, int);
    va_end(ap);
  }
  pthread_mutex_lock(&files_mu);
  files_opened++;
  pthread_mutex_unlock(&files_mu);
  return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static int go[2];
static volatile unsigned long rounds;

static void* worker(void* arg) {
  (void)arg;
  static void* w[20000];
  for (int i = 0; i < 20000; ++i) w[i] = malloc(64);  // bin overflows: the purger starts
  for (int i = 0; i < 20000; ++i) free(w[i]);
  for (;;) {
    pthread_mutex_lock(&files_mu);  // e.g. a request that updates the file table
    char c;
    if (read(go[0], &c, 1) != 1 || c == 'q') break;  // sleeps with the mutex held
    void* volatile p = malloc(100);
    free(p);
    pthread_mutex_unlock(&files_mu);
    rounds++;
  }
  pthread_mutex_unlock(&files_mu);
  return NULL;
}

int main(void) {
  void* volatile warm = malloc(32);
  free(warm);
  pipe(go);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  for (int i = 0; i < 20; ++i) {
    usleep(30000);
    unsigned long before = rounds;
    write(go[1], "x", 1);
    usleep(200000);
    if (rounds == before) {
      fprintf(stderr, "DEADLOCK after %d rounds: the worker does not come back from malloc\n", i);
      if (getenv("REPRO_STAY")) pause();  // to attach a debugger
      _exit(3);
    }
  }
  write(go[1], "q", 1);
  pthread_join(t, NULL);
  printf("ok: 20 rounds, %lu opens\n", files_opened);
  return 0;
}
