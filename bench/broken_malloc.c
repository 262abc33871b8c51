/* broken_malloc: a deliberately broken allocator for `tools/bench selftest`.
 * Preloaded over glibc, it hands out a block that is still live: every 2000th
 * malloc returns this thread's previous block again, or, when that thread has
 * none big enough (a thread's first malloc), the next malloc that can.
 * Every benchmark must notice (stamp check) and exit non-zero. Never use it
 * for anything else.
 * BENCH_BROKEN_EVERY=N and BENCH_BROKEN_AFTER=M (defaults 2000 and 1000) make
 * it strike every Nth malloc after the Mth, for programs that make only a few
 * hundred mallocs (tools/bench selftest sets them for malloc_large). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

static void *(*real_malloc)(size_t);
static atomic_ulong calls;
static atomic_int pending;  // a strike is due: a short thread may have no block to repeat
static __thread void *last;
static __thread size_t last_size;

static unsigned long every = 2000, after = 1000;

static unsigned long env_or(const char *name, unsigned long dflt) {
  const char *v = getenv(name);
  unsigned long x = v ? strtoul(v, NULL, 10) : 0;
  return x ? x : dflt;
}

void *malloc(size_t n) {
  if (!real_malloc) {
    every = env_or("BENCH_BROKEN_EVERY", 2000);
    after = env_or("BENCH_BROKEN_AFTER", 1000);
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
  }
  unsigned long c = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  if (c > after && c % every == 0) atomic_store_explicit(&pending, 1, memory_order_relaxed);
  if (last && last_size >= n && atomic_load_explicit(&pending, memory_order_relaxed) &&
      atomic_exchange_explicit(&pending, 0, memory_order_relaxed))
    return last;
  void *p = real_malloc(n);
  last = p;
  last_size = n;
  return p;
}
