// The solo gate: see solo_gate.h. Every step is one atomic word or this
// thread's own counter, so that a signal handler that forks may interrupt
// any of them.
#include "common/solo_gate.h"

#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace hz::solo_gate {

HZ_TLS unsigned t_locks = 0;
constinit std::atomic<bool> g_on{false};
constinit std::atomic<uintptr_t> g_gate{0};

namespace {
constinit unsigned g_prepare_locks = 0;  // the forking thread's t_locks
}

bool try_enter() {
  uintptr_t free = 0;
  return held_by_me() || g_gate.compare_exchange_strong(free, token(), std::memory_order_acquire);
}

void enter() {
  for (int spins = 0;; ++spins) {
    if (try_enter()) return;
    if (spins < 64) {
      __builtin_ia32_pause();
    } else if (spins < 128) {
      sched_yield();
    } else {
      // A real-time thread waiting for a lower-priority holder: sched_yield
      // would never let it run. Raw: libc's nanosleep is a cancellation point.
      struct timespec ts = {0, 50000};
      syscall(SYS_nanosleep, &ts, nullptr);
    }
  }
}

void exit() {
  // A compare, not a store: a handler that ran between our last unlock and
  // this call may have released the gate already, and another thread taken it.
  uintptr_t mine = token();
  g_gate.compare_exchange_strong(mine, 0, std::memory_order_release);
}

void note_prepare() { g_prepare_locks = t_locks; }

void reset_in_child() {
  // The fork locks were taken after this thread's own; a slow path the
  // handler interrupted before it held anything goes on from there.
  t_locks = g_prepare_locks;
  g_gate.store(0, std::memory_order_relaxed);
}

}  // namespace hz::solo_gate
