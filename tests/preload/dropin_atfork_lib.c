/* A library whose constructor registers fork handlers before any malloc
 * (so before hakozuna's, whose constructor runs after every other
 * library's under LD_PRELOAD, or last when linked from the archive), and
 * whose prepare handler allocates while its mutex is held. See
 * dropin_atfork_order.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static void* g_block;

static void prepare(void) {
  pthread_mutex_lock(&g_mu);
  g_block = malloc(1 << 20);
  if (g_block) memset(g_block, 1, 1 << 20);
}
static void after(void) {
  free(g_block);
  g_block = NULL;
  pthread_mutex_unlock(&g_mu);
}

__attribute__((constructor)) static void init(void) { pthread_atfork(prepare, after, after); }

/* What the program's threads call: an allocation under the library's mutex. */
void atfork_lib_work(size_t n) {
  pthread_mutex_lock(&g_mu);
  void* p = malloc(n);
  if (p) memset(p, 2, n < 64 ? n : 64);
  free(p);
  pthread_mutex_unlock(&g_mu);
}
