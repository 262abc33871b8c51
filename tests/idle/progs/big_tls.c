// A program with 100 KB of static TLS (__thread arrays; common in
// interpreters, loggers, per-thread scratch buffers). The purger is created
// with a 64 KiB stack (pthread_attr_setstacksize(64 KiB) in
// budget::ensure_purger); glibc carves the static TLS out of that stack and
// pthread_create fails with EINVAL, retried every second, forever: no
// background decay and no idle return, ever. RSS of sleeping threads stays.
// Run: LD_PRELOAD=.../libhakozuna.so ./big_tls   (prints whether hz-purge runs, and RSS)
// Control: build with -DTLS_KIB=1.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include "rss.h"

#ifndef TLS_KIB
#define TLS_KIB 100
#endif
static __thread char scratch[TLS_KIB << 10];
static int go[2];

static size_t size_of(unsigned i) { return 1024 + (i * 2654435761u) % (31 * 1024); }

static void* worker(void* arg) {
  long t = (long)arg;
  static void* all[16][1 << 15];
  void** blocks = all[t];
  size_t n = 0, bytes = 0;
  scratch[0] = 1;
  __asm__ volatile("" : : "r"(scratch) : "memory");  // keep it
  for (unsigned i = (unsigned)t * 7919; bytes < (20u << 20) && n < (1 << 15); ++i) {
    size_t s = size_of(i);
    blocks[n] = malloc(s);
    memset(blocks[n++], 0x5a, s);
    bytes += s;
  }
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  char c;
  read(go[0], &c, 1);
  return NULL;
}


int main(void) {
  pipe(go);
  pthread_t th[16];
  for (long i = 0; i < 16; ++i) pthread_create(&th[i], NULL, worker, (void*)i);
  usleep(500000);
  long before = (rss_kib() >> 10);
  sleep(3);
  int purger = 0;
  DIR* d = opendir("/proc/self/task");
  struct dirent* e;
  while ((e = readdir(d))) {
    char p[300], name[64] = "";
    snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
    FILE* f = fopen(p, "r");
    if (!f) continue;
    if (fgets(name, sizeof name, f) && !strncmp(name, "hz-purge", 8)) purger = 1;
    fclose(f);
  }
  closedir(d);
  printf("purger thread %s; RSS %ld MiB with the threads asleep, %ld MiB 3 s later\n", purger ? "running" : "ABSENT", before, (rss_kib() >> 10));
  for (int i = 0; i < 16; ++i) write(go[1], "x", 1);
  for (int i = 0; i < 16; ++i) pthread_join(th[i], NULL);
  return 0;
}
