// Idle return (issue 8, HZ_IDLE_RETURN): the blocks a thread keeps in its
// cache (bins, spill, remote stash) go back after the purge delay even if the
// thread never calls the allocator again, and the exhaustion sequence takes
// them at once.
//
// Nothing interrupts the thread. The purger (or a thread out of arena) takes
// the cache only at an instant when its owner provably runs none of our code:
//   1. it sets the cache's kStopped flag and points the owner's t_sizes and
//      t_bins at the empty tables, so that from now on every malloc and free
//      of the owner lands in a slow path, and every slow path waits
//      (on_flag) before it touches the cache;
//   2. it reads /proc/self/task/<tid>/syscall: the owner must sleep in a
//      system call (not run, not be runnable) made from outside our code; it
//      must not be in a slow path that works on its cache (busy: such a slow
//      path may sleep in mmap or madvise); and its stack must hold no signal
//      frame whose handler interrupted our code (a malloc half done, its
//      handler asleep in a system call);
//   3. only then it empties the cache (thread_flush_all), restores the two
//      pointers and clears the flag.
// A fast path that started before step 1 has finished by step 2 (the owner
// sleeps outside our code); one that starts after it sees the empty tables.
// A counting front's tables are the empty ones always: step 1 sets its flag
// only, and step 3 empties the real cache behind it.
// Our code must be an object of its own for step 2 to say anything (in a
// program linked statically with us the program's code would count as ours):
// there, no cache is ever taken.
#pragma once
#include <atomic>
#include <cstdint>

#include "cache/thread_cache.h"

namespace hz::idle {

inline constexpr uint8_t kStopped = 1;  // the cache is being taken: wait
inline constexpr uint8_t kWake = 2;     // wake the purger: it sleeps only while
                                        // every cache it watches is empty

// Owner side: every slow path that works on the thread's own cache, before
// it touches it.
HZ_NOINLINE void on_flag(ThreadCache* tc);
HZ_INLINE void check(ThreadCache* tc) {
  if (HZ_UNLIKELY(__atomic_load_n(&tc->idle, __ATOMIC_ACQUIRE))) on_flag(tc);
}
// A slow path that works on tc, a live cache of this thread: marked busy
// throughout (an attempt then refuses), after waiting out one under way.
class Busy {
 public:
  explicit Busy(ThreadCache* tc) : tc_(tc), prev_(tc->busy) {
    __atomic_store_n(&tc->busy, 1, __ATOMIC_RELAXED);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    check(tc);
  }
  ~Busy() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    __atomic_store_n(&tc_->busy, prev_, __ATOMIC_RELAXED);
  }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  ThreadCache* tc_;
  uint8_t prev_;
};
// This thread switches contexts (swapcontext, setcontext): its cache is
// never taken from now on (kIdleContextGuard). Before the switch.
extern HZ_TLS uint8_t t_switched_context;
HZ_INLINE void note_context_switch() { __atomic_store_n(&t_switched_context, 1, __ATOMIC_SEQ_CST); }

// The end of a thread's set-up: its cache may be taken from now on. And the
// start of its teardown (or the release of a gone thread's cache): no longer,
// and no attempt is under way once this returns.
void attach(ThreadCache* tc);
void detach(ThreadCache* tc);

// Purger side: looks at every live cache, and takes those whose contents did
// not change for a quarter of the delay. Returns true while some cache holds
// blocks (the purger has work ahead).
bool tick(uint32_t now_ms, uint32_t delay_ms);
// Before the purger sleeps, a tick ahead: every cache wakes it at its next
// slow path. Then holds_any(), under the purger's idle flag and a fence: a
// cache filled before its flag was seen is seen holding blocks, one filled
// after wakes the purger.
void arm_wake();
bool holds_any();
// The exhaustion sequence: every cache that can be taken now, however
// recently used (not the caller's own).
void take_all_now();

void fork_prepare();
void fork_parent();
void fork_child();

}  // namespace hz::idle
