// Fork handlers first (HZ_ATFORK_FIRST): glibc runs prepare handlers last
// registered first, and ours take every lock of the allocator, so ours must
// be the process's first registration: a handler registered before ours
// that allocates (or that waits for its mutex, held by a thread inside
// malloc) then ran after ours and spun on our locks for good. glibc's own
// malloc takes its locks after every handler. Our constructor comes too
// late: under LD_PRELOAD, and linked from the archive, it runs after every
// other library's, which may register theirs (a break-it helper's library:
// 5 of 5 forks hung).
//
// pthread_atfork (libc_nonshared, copied into every object that calls it)
// passes each registration to libc's __register_atfork through the PLT, so
// the definition below, first in the lookup (preloaded, or in the
// executable), sees the first registration of any object and puts ours
// ahead of it. Weak: where libc's registry is linked into a static program
// its definition wins, and ours go in through pthread_atfork as before.
//
// A registration may realloc glibc's list of handlers (our malloc) with
// glibc's atfork lock held, and fork lets that lock go around each prepare
// handler: one taken while our prepare handler held the allocator's locks
// deadlocked the fork (a helper's program: 8 of 40 runs). So the
// interposer holds g_register around its call into libc, and our prepare
// handler takes it first (register_lock), before the allocator's locks.
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>

#include "cache/thread_cache.h"

extern "C" void* __dso_handle __attribute__((visibility("hidden")));

namespace hz {
namespace {

using RegisterFn = int (*)(void (*)(), void (*)(), void (*)(), void*);

constinit SpinLock g_register;  // held around libc's registrations (see above)
constinit std::atomic<RegisterFn> g_next{nullptr};  // libc's __register_atfork
constinit std::atomic<bool> g_looked{false};        // looked up (g_next null: a static program)
constinit HZ_TLS bool t_looking = false;            // in dlsym, whose error path allocates
// 0 not registered, 1 being registered, 2 registered.
constinit std::atomic<int> g_ours{0};
constinit HZ_TLS bool t_registering = false;

RegisterFn next_register() {
  if (g_looked.load(std::memory_order_acquire)) return g_next.load(std::memory_order_relaxed);
  if (t_looking) return nullptr;
  t_looking = true;
  auto f = reinterpret_cast<RegisterFn>(dlsym(RTLD_NEXT, "__register_atfork"));
  t_looking = false;
  g_next.store(f, std::memory_order_relaxed);
  g_looked.store(true, std::memory_order_release);
  return f;
}

// Ours, once, ahead of whatever comes after. Not under a lock of ours:
// libc's registration may allocate (a nested call on this thread returns).
void ours_first(RegisterFn next) {
  for (;;) {
    int s = 0;
    if (g_ours.compare_exchange_strong(s, 1, std::memory_order_acquire)) break;
    if (s == 2 || t_registering) return;
    sched_yield();  // another thread is registering ours: others wait behind it
  }
  t_registering = true;
  const bool in = next(fork_prepare, fork_parent, fork_child, &__dso_handle) == 0;
  t_registering = false;
  g_ours.store(in ? 2 : 0, std::memory_order_release);
}

}  // namespace

void register_lock() { g_register.lock(); }
void register_unlock() { g_register.unlock(); }
void register_reset() { g_register.reset(); }

void register_fork_handlers() {
  if constexpr (kAtforkFirst) {
    if (RegisterFn next = next_register()) return ours_first(next);
  }
  static constinit std::atomic<bool> done{false};
  if (!done.exchange(true, std::memory_order_relaxed)) pthread_atfork(fork_prepare, fork_parent, fork_child);
}

}  // namespace hz

#if HZ_OVERRIDE && HZ_ATFORK_FIRST
extern "C" __attribute__((weak, visibility("default"))) int __register_atfork(void (*prepare)(), void (*parent)(),
                                                                              void (*child)(), void* dso) {
  hz::RegisterFn next = hz::next_register();
  // None: a static program without libc's registry, where no fork() can run
  // handlers, or our own registration from inside the lookup (made again
  // right after it).
  if (!next) return 0;
  hz::ours_first(next);
  if (prepare == hz::fork_prepare && parent == hz::fork_parent && child == hz::fork_child) return 0;  // in already
  hz::LockGuard g(hz::g_register);
  return next(prepare, parent, child, dso);
}
#endif
