/* broken_malloc: a deliberately broken allocator for `tools/bench selftest`.
 * Preloaded over glibc, it hands out a block that is still live: every 2000th
 * malloc returns this thread's previous block again when it is big enough.
 * Every benchmark must notice (stamp check) and exit non-zero. Never use it
 * for anything else. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

static void *(*real_malloc)(size_t);
static atomic_ulong calls;
static __thread void *last;
static __thread size_t last_size;

void *malloc(size_t n) {
  if (!real_malloc) real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
  unsigned long c = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  if (c > 1000 && c % 2000 == 0 && last && last_size >= n) return last;
  void *p = real_malloc(n);
  last = p;
  last_size = n;
  return p;
}
