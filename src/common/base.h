// Small shared helpers: branch hints, inlining, the slow-path lock, fatal errors.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/solo_gate.h"
#include "config.h"

#define HZ_LIKELY(x) __builtin_expect(!!(x), 1)
#define HZ_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HZ_INLINE inline __attribute__((always_inline))
#define HZ_NOINLINE __attribute__((noinline))
#define HZ_COLD __attribute__((noinline, cold))
// A cold report the fast path reaches by a jump: never [[noreturn]] nor seen
// as such (GCC's noipa), so the caller needs no stack frame for it.
#if defined(__clang__)
#define HZ_COLD_TAIL __attribute__((noinline, cold))
#else
#define HZ_COLD_TAIL __attribute__((noipa, cold))
#endif
#define HZ_EXPORT extern "C" __attribute__((visibility("default")))
// On a declaration the fast paths read: -fvisibility=hidden covers only
// definitions, so without it a shared build reaches the object through the GOT
// (a load, or a lea after the linker relaxes it) before every field access.
#define HZ_HIDDEN __attribute__((visibility("hidden")))

namespace hz {

// Writes all of s to fd, without allocating and without a cancellation point
// (safe inside malloc); write_stderr, a string to stderr.
void write_all(int fd, const char* s, size_t n);
void write_stderr(const char* s);
// Writes v in decimal to out (at least 20 bytes, not terminated); returns
// the number of digits.
size_t format_u64(char* out, uint64_t v);
// Formats "<prefix><hex pointer><suffix>" into buf without allocating.
void format_ptr(char* buf, size_t cap, const char* prefix, const void* p, const char* suffix);
// Prints "hakozuna: <msg>" and aborts.
[[noreturn]] HZ_COLD void fatal(const char* msg);
// Prints "hakozuna: heap corruption detected (<what>) near 0x..." and aborts:
// a free list broken by the program (a double free, a write after free).
[[noreturn]] HZ_COLD void heap_corruption(const char* what, const void* p);
inline constexpr const char* kNotAFreeBlock = "a free list leads to a block that is not free: written after free?";
// Prints "hakozuna: <call>(): <what> 0x..." and aborts: a misuse the program
// made of the API (invalid pointer, double free, size mismatch).
[[noreturn]] HZ_COLD void misuse(const char* call, const char* what, const void* p);
[[noreturn]] HZ_COLD void invalid_pointer(const char* call, const void* p);
[[noreturn]] HZ_COLD void double_free(const char* call, const void* p);

// Debug-only invariant check at box boundaries; compiles to nothing in release.
#define HZ_CHECK(cond, msg)                                 \
  do {                                                      \
    if constexpr (::hz::kDebugChecks) {                     \
      if (HZ_UNLIKELY(!(cond))) ::hz::fatal("check failed: " msg); \
    }                                                       \
  } while (0)

// A test-and-test-and-set lock for slow paths only (page heap, shard
// ownership). Never held across a call that could allocate.
class SpinLock {
 public:
  // While the solo gate is on, a thread's first lock takes it and its last
  // unlock gives it back (common/solo_gate.h).
  void lock() {
    if (solo_gate::t_locks++ == 0 && HZ_UNLIKELY(solo_gate::g_on.load(std::memory_order_relaxed))) solo_gate::enter();
    if (HZ_UNLIKELY(flag_.exchange(true, std::memory_order_acquire))) wait();
  }
  bool try_lock() {
    if (solo_gate::t_locks == 0 && HZ_UNLIKELY(solo_gate::g_on.load(std::memory_order_relaxed)) && !solo_gate::try_enter())
      return false;
    if (!flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire)) {
      ++solo_gate::t_locks;
      return true;
    }
    if (solo_gate::t_locks == 0 && HZ_UNLIKELY(solo_gate::held_by_me())) solo_gate::exit();
    return false;
  }
  void unlock() {
    flag_.store(false, std::memory_order_release);
    if (--solo_gate::t_locks == 0 && HZ_UNLIKELY(solo_gate::held_by_me())) solo_gate::exit();
  }
  // After fork() the child owns every lock its parent held in prepare
  // (solo_gate::reset_in_child then clears this thread's count).
  void reset() { flag_.store(false, std::memory_order_relaxed); }

 private:
  HZ_NOINLINE void wait();  // returns holding the lock
  std::atomic<bool> flag_{false};
};

class LockGuard {
 public:
  explicit LockGuard(SpinLock& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& l_;
};

// Sized frees check the size against the block: C++ sized delete exactly (the
// size maps to the block's class, or its page count), free_sized and aligned
// sized delete loosely (the size fits the block: realloc may have shrunk it
// in place, alignment may have rounded it up); kAlignedDelete is kAtMost
// named for the caller's reports, "operator delete".
enum class SizeCheck { kNone, kExact, kAtMost, kAlignedDelete };
constexpr const char* sized_call(SizeCheck how) { return how == SizeCheck::kAtMost ? "free_sized" : "operator delete"; }

}  // namespace hz
