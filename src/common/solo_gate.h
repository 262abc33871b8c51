// The solo gate (docs/boxes.md "A purger for single-threaded programs"). A
// single-threaded program may fork from a signal handler that interrupted
// one of our slow paths with a lock held; glibc's malloc and ours then skip
// the fork locks (taking them would deadlock on the interrupted holder).
// Once our purger runs beside such a program, the process has two threads
// and the purger could be half-way through a change under a lock the child
// inherits. So while the gate is on (the purger was started for a
// single-threaded program), a thread's first SpinLock also takes the gate,
// and its last unlock releases it: at most one thread is inside our locks at
// a time, and a fork made by the gate's holder may skip the locks as a
// single-threaded one does. Off again once another thread allocates.
#pragma once
#include <atomic>
#include <cstdint>

#include "config.h"

namespace hz::solo_gate {

extern HZ_TLS unsigned t_locks;  // SpinLocks this thread holds
extern std::atomic<bool> g_on;
// The holder's token (the address of its t_locks), 0 when free: one word, so
// that a signal handler sees at any instant whether its thread holds it.
extern std::atomic<uintptr_t> g_gate;

inline uintptr_t token() { return reinterpret_cast<uintptr_t>(&t_locks); }
inline bool held_by_me() { return g_gate.load(std::memory_order_relaxed) == token(); }
void enter();      // returns holding the gate (at once if this thread holds it)
bool try_enter();  // false when another thread holds it
void exit();       // no-op unless this thread holds it

// Fork: what fork_prepare saw, and the child's state after a fork made
// with the fork locks (they were reset, not unlocked).
void note_prepare();
void reset_in_child();

}  // namespace hz::solo_gate
