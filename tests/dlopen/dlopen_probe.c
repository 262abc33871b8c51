/* A process that did not preload hakozuna dlopen()s it (as a plugin would)
 * and allocates through hz_* from several threads, each freeing blocks the
 * next one allocated. Prints "ok", or "dlopen failed: <why>" and exits 3. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { kThreads = 4, kBlocks = 5000 };
static void* (*hz_malloc_)(size_t);
static void (*hz_free_)(void*);
static unsigned char* g_blocks[kThreads][kBlocks];
static pthread_barrier_t g_barrier;

static void* work(void* arg) {
  int me = (int)(long)arg, next = (me + 1) % kThreads;
  for (int i = 0; i < kBlocks; ++i) {
    size_t size = 16 + (size_t)(i % 50) * 24;
    g_blocks[me][i] = hz_malloc_(size);
    if (!g_blocks[me][i]) return (void*)1;
    memset(g_blocks[me][i], me, size);
  }
  pthread_barrier_wait(&g_barrier);
  for (int i = 0; i < kBlocks; ++i) {  /* the next thread's blocks: remote frees */
    if (g_blocks[next][i][0] != next) return (void*)1;
    hz_free_(g_blocks[next][i]);
  }
  return NULL;
}

int main(int argc, char** argv) {
  void* h = dlopen(argc > 1 ? argv[1] : "libhakozuna.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("dlopen failed: %s\n", dlerror());
    return 3;
  }
  hz_malloc_ = (void* (*)(size_t))dlsym(h, "hz_malloc");
  hz_free_ = (void (*)(void*))dlsym(h, "hz_free");
  if (!hz_malloc_ || !hz_free_) return 2;
  pthread_barrier_init(&g_barrier, NULL, kThreads);
  pthread_t t[kThreads];
  for (long i = 0; i < kThreads; ++i) pthread_create(&t[i], NULL, work, (void*)i);
  int bad = 0;
  for (int i = 0; i < kThreads; ++i) {
    void* r;
    pthread_join(t[i], &r);
    bad |= r != NULL;
  }
  puts(bad ? "wrong contents" : "ok");
  return bad;
}
