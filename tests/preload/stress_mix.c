// Stamping stress (from a break-it review): 4 workers that first carve more
// than 8 MiB (so their refills borrow), then swap new blocks into 64 K shared
// slots and free what comes out (mostly remote frees); a churn thread keeps
// starting short workers that exit with their blocks still in the slots;
// optional threads call malloc_trim(0) in a loop. Every block carries a LIVE
// tag, its address, a serial, a tail word and 64 body bytes, all checked at
// free with malloc_usable_size. It caught the purger being created in the
// middle of a refill (pthread_create allocates) and a recursive start.
//   stress_mix SECONDS TRIMMERS WORKERS
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <malloc.h>
#include <unistd.h>
#include <stdatomic.h>
#define LIVE 0x4c4956454c495645ull
#define DEAD 0x4445414444454144ull
static _Atomic uint64_t g_serial = 1;
static _Atomic long g_fail = 0;
static _Atomic long g_enomem = 0;
static void die(const char* m, void* p) { fprintf(stderr, "FAIL: %s %p\n", m, p); fflush(stderr); abort(); }
typedef struct { _Atomic uint64_t tag; uint64_t serial; uint64_t chk; uint64_t size; } hdr_t;
static inline void* salloc(size_t n) {
  if (n < sizeof(hdr_t) + 8) n = sizeof(hdr_t) + 8;
  hdr_t* h = malloc(n);
  if (!h) { g_enomem++; return NULL; }
  if (((uintptr_t)h & 15) != 0) die("misaligned", h);
  uint64_t old = atomic_exchange(&h->tag, LIVE);
  if (old == LIVE) die("DOUBLE HANDOUT (block already live)", h);
  uint64_t s = atomic_fetch_add(&g_serial, 1);
  h->serial = s; h->chk = (uintptr_t)h ^ s ^ 0x5555; h->size = n;
  uint64_t tail = s * 31 + (uintptr_t)h;
  memcpy((char*)h + n - 8, &tail, 8);
  if (n >= 256) memset((char*)h + sizeof(hdr_t), (int)(s & 0xff), 64);
  return h;
}
static inline void sverify(void* p) {
  hdr_t* h = p;
  if (atomic_load(&h->tag) != LIVE) die("tag not LIVE at free (overwritten / double handout)", p);
  if (h->chk != ((uintptr_t)h ^ h->serial ^ 0x5555)) die("header stamp mismatch", p);
  uint64_t tail; memcpy(&tail, (char*)h + h->size - 8, 8);
  if (tail != h->serial * 31 + (uintptr_t)h) die("tail stamp mismatch", p);
  if (h->size >= 256) { unsigned char* b = (unsigned char*)h + sizeof(hdr_t);
    for (int i = 0; i < 64; i++) if (b[i] != (h->serial & 0xff)) die("body stamp mismatch", p); }
  { size_t u = malloc_usable_size(p); if (u < h->size) { fprintf(stderr, "usable=%zu size=%lu serial=%lu\n", u, (unsigned long)h->size, (unsigned long)h->serial); die("usable size < requested", p);} }
}
static inline void sfree(void* p) {
  if (!p) return;
  sverify(p);
  hdr_t* h = p;
  if (atomic_exchange(&h->tag, DEAD) != LIVE) die("race on free", p);
  free(p);
}
static inline uint64_t rnd(uint64_t* s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }
static inline size_t rsize(uint64_t* s) {
  uint64_t r = rnd(s) % 1000;
  if (r < 600) return 32 + rnd(s) % 200;
  if (r < 900) return 256 + rnd(s) % 2048;
  if (r < 990) return 4096 + rnd(s) % 30000;
  return 65536 + rnd(s) % 300000;
}
static long rss_kb(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long a = 0, b = 0;
  if (!f || fscanf(f, "%ld %ld", &a, &b) != 2) return 0;
  fclose(f);
  return b * 4;
}
#define NSLOT 65536
static _Atomic(void*) slots[NSLOT];
static _Atomic int stop = 0;
static int secs = 8, ntrim = 2;
static void* worker(void* arg) {
  uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  long iters = (long)((uintptr_t)arg & 1 ? 200000 : 2000000);
  // carve > 8 MiB locally, free locally (own shard central)
  static __thread void* mine[200000];
  int k = 0;
  for (size_t tot = 0; tot < (9u << 20) && k < 200000; k++) { size_t n = 32 + rnd(&s) % 100; mine[k] = salloc(n); tot += n; }
  for (int i = 0; i < k; i++) sfree(mine[i]);
  for (long i = 0; i < iters && !stop; i++) {
    uint64_t r = rnd(&s);
    void* p = salloc(rsize(&s));
    void* old = atomic_exchange(&slots[r % NSLOT], p);
    sfree(old);
    if ((r >> 40) % 50000 == 0) { // burst: hold many then free
      for (int j = 0; j < 20000; j++) mine[j] = salloc(16 + rnd(&s) % 128);
      for (int j = 0; j < 20000; j++) sfree(mine[j]);
    }
  }
  return NULL;
}
static void* trimmer(void* a) { (void)a; while (!stop) { malloc_trim(0); usleep(rand() % 200); } return NULL; }
static void* churn(void* a) {
  (void)a; uint64_t seed = 77;
  while (!stop) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void*)(uintptr_t)(rnd(&seed) | 1));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  }
  return NULL;
}
int main(int argc, char** argv) {
  if (argc > 1) secs = atoi(argv[1]);
  if (argc > 2) ntrim = atoi(argv[2]);
  int nw = argc > 3 ? atoi(argv[3]) : 4;
  pthread_t w[16], t[8], c;
  for (int i = 0; i < nw; i++) pthread_create(&w[i], NULL, worker, (void*)(uintptr_t)(2 * i + 2));
  for (int i = 0; i < ntrim; i++) pthread_create(&t[i], NULL, trimmer, NULL);
  pthread_create(&c, NULL, churn, NULL);
  sleep(secs); stop = 1;
  for (int i = 0; i < nw; i++) pthread_join(w[i], NULL);
  for (int i = 0; i < ntrim; i++) pthread_join(t[i], NULL);
  pthread_join(c, NULL);
  long peak = rss_kb();
  for (int i = 0; i < NSLOT; i++) sfree(atomic_exchange(&slots[i], NULL));
  malloc_trim(0);
  printf("OK enomem=%ld serial=%lu rss_before_free=%ld rss_after_trim=%ld\n", (long)g_enomem, (unsigned long)g_serial, peak, rss_kb());
  return 0;
}
