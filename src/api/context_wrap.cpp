// swapcontext and setcontext for a program linked with libhakozuna.a and
// -Wl,--wrap=swapcontext,--wrap=setcontext: the archive cannot interpose
// them as libhakozuna.so does (context_switch.cpp calls libc's through
// RTLD_NEXT, which a fully static program lacks), so the program's link
// routes its calls here and __real_* to libc's. A thread that switches is
// then never taken by idle return (kIdleContextGuard). Without those flags
// nothing calls these.
#include <ucontext.h>

#include "budget/idle_return.h"
#include "config.h"

#if HZ_OVERRIDE
extern "C" {
// Strong references: --wrap turns them into references to libc's, which a
// fully static link then pulls in (a weak one pulled nothing: ENOSYS, and a
// scheduler that spun on it). Without --wrap, context_real.cpp's weak
// definitions answer them.
int __real_swapcontext(ucontext_t* from, const ucontext_t* to);
int __real_setcontext(const ucontext_t* to);

int __wrap_swapcontext(ucontext_t* from, const ucontext_t* to) {
  if constexpr (hz::kIdleContextGuard) hz::idle::note_context_switch();
  return __real_swapcontext(from, to);
}

int __wrap_setcontext(const ucontext_t* to) {
  if constexpr (hz::kIdleContextGuard) hz::idle::note_context_switch();
  return __real_setcontext(to);
}
}
#endif
