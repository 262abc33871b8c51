// swapcontext and setcontext, interposed (libhakozuna.so only): a thread that
// switches contexts tells idle return first, which then never takes its cache
// (kIdleContextGuard, budget/idle_return.h). A preemptive scheduler's signal
// handler may switch away from a task it interrupted inside malloc, and that
// half-done call then sits on a stack the thread no longer runs on, out of
// idle return's sight. The libc functions do the switch, found once with
// dlsym(RTLD_NEXT): a scheduler's first switch is made outside any handler.
// Not in libhakozuna.a: a fully static program has no RTLD_NEXT to call.
#include <dlfcn.h>
#include <errno.h>
#include <ucontext.h>

#include "budget/idle_return.h"
#include "config.h"

#if HZ_OVERRIDE
namespace {

using SwapFn = int (*)(ucontext_t*, const ucontext_t*);
using SetFn = int (*)(const ucontext_t*);

template <typename Fn>
Fn next(Fn& cache, const char* name) {
  Fn f = __atomic_load_n(&cache, __ATOMIC_ACQUIRE);
  if (!f) {
    f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
    __atomic_store_n(&cache, f, __ATOMIC_RELEASE);
  }
  return f;
}

constinit SwapFn g_swap = nullptr;
constinit SetFn g_set = nullptr;

}  // namespace

extern "C" __attribute__((visibility("default"))) int swapcontext(ucontext_t* from, const ucontext_t* to) {
  if constexpr (hz::kIdleContextGuard) hz::idle::note_context_switch();
  SwapFn f = next(g_swap, "swapcontext");
  if (!f) {
    errno = ENOSYS;
    return -1;
  }
  return f(from, to);
}

extern "C" __attribute__((visibility("default"))) int setcontext(const ucontext_t* to) {
  if constexpr (hz::kIdleContextGuard) hz::idle::note_context_switch();
  SetFn f = next(g_set, "setcontext");
  if (!f) {
    errno = ENOSYS;
    return -1;
  }
  return f(to);
}
#endif
