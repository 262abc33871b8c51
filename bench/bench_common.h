// Shared helpers for the hakozuna benchmark programs.
//
// Every benchmark uses the plain malloc/free/new/delete of the process, so any
// allocator can be swapped in with LD_PRELOAD. Nothing in this header allocates
// in a measurement loop: the PRNG, the stamps, the start gate and the rings are
// all allocation-free (rings come from mmap, not from the allocator under test).
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace hzb {

// ---- failure: loud, non-zero exit, no unwinding through a broken heap ----
[[noreturn]] inline void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("BENCH FAIL: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::fflush(stderr);
  std::_Exit(2);
}

// ---- argument parsing ----
inline uint64_t arg_u64(int argc, char** argv, int i, uint64_t dflt) {
  if (i >= argc) return dflt;
  char* end = nullptr;
  unsigned long long v = std::strtoull(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0') die("bad numeric argument '%s'", argv[i]);
  return v;
}
inline double arg_f64(int argc, char** argv, int i, double dflt) {
  if (i >= argc) return dflt;
  char* end = nullptr;
  double v = std::strtod(argv[i], &end);
  if (end == argv[i] || *end != '\0') die("bad numeric argument '%s'", argv[i]);
  return v;
}

// ---- PRNG: splitmix64 (seeding) + xoshiro256** (per thread, no shared state) ----
inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
  z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  return z ^ (z >> 33);
}

struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (auto& w : s) w = splitmix64(seed);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t r = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  // uniform in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here)
  uint64_t below(uint64_t n) { return (uint64_t)(((unsigned __int128)next() * n) >> 64); }
  // uniform in [lo, hi]
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // true with probability pct/100
  bool percent(uint64_t pct) { return below(100) < pct; }
};

// ---- block stamps: write a pattern into each block, verify it before free ----
//
// Layout for a block of n >= 16 bytes at p:
//   word 0            = n
//   word 1            = tag(p, n)
//   every 4 KiB page  = tag   (touches every page, like a real user would)
//   last aligned word = tag   (n >= 24)
// Two live blocks that overlap, a block returned twice, or a block whose memory
// was reused behind our back all break a stamp, and the benchmark dies loudly.
inline uint64_t tag_of(const void* p, size_t n) {
  return mix64((uint64_t)(uintptr_t)p ^ ((uint64_t)n << 40) ^ 0x6a09e667f3bcc908ULL);
}
inline void check_ptr(const void* p, size_t n) {
  if (p == nullptr) die("malloc(%zu) returned NULL", n);
  if (((uintptr_t)p & 15) != 0) die("malloc(%zu) returned %p: not 16-byte aligned", n, p);
}
// Like check_ptr, for programs that also ask for blocks under 16 B: a block of
// n bytes must be aligned to the largest power of two <= n, up to 16 (what C
// asks for an object of that size; glibc gives 16 always, others 8 below 16 B).
inline void check_ptr_sized(const void* p, size_t n) {
  if (p == nullptr) die("malloc(%zu) returned NULL", n);
  size_t align = 16;
  while (align > 1 && align > n) align >>= 1;
  if (((uintptr_t)p & (align - 1)) != 0) die("malloc(%zu) returned %p: not %zu-byte aligned", n, p, align);
}
inline void stamp(void* p, size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  const uint64_t t = tag_of(p, n);
  const uint64_t nn = n;
  std::memcpy(b, &nn, 8);
  std::memcpy(b + 8, &t, 8);
  for (size_t off = 4096; off + 8 <= n; off += 4096) std::memcpy(b + off, &t, 8);
  if (n >= 24) std::memcpy(b + ((n - 8) & ~size_t{7}), &t, 8);
}
// Verify a stamp; returns the block size recorded in it. `expect` = 0: unknown.
inline size_t verify(const void* p, size_t expect = 0) {
  auto* b = static_cast<const unsigned char*>(p);
  uint64_t n, t;
  std::memcpy(&n, b, 8);
  if (expect != 0 && n != expect) die("block %p: size word %" PRIu64 " != %zu (corrupted)", p, n, expect);
  if (n < 16 || n > (1ULL << 40)) die("block %p: size word %" PRIu64 " is garbage (corrupted)", p, n);
  const uint64_t want = tag_of(p, n);
  std::memcpy(&t, b + 8, 8);
  if (t != want) die("block %p (size %" PRIu64 "): head stamp corrupted", p, n);
  for (size_t off = 4096; off + 8 <= n; off += 4096) {
    std::memcpy(&t, b + off, 8);
    if (t != want) die("block %p (size %" PRIu64 "): stamp at +%zu corrupted", p, n, off);
  }
  if (n >= 24) {
    std::memcpy(&t, b + ((n - 8) & ~uint64_t{7}), 8);
    if (t != want) die("block %p (size %" PRIu64 "): tail stamp corrupted", p, n);
  }
  return n;
}
// Cheap check of the first 16 bytes only (one cache line): used where a block
// arrives from another thread that already ran the full verify() on it.
inline void verify_head(const void* p) {
  uint64_t w[2];
  std::memcpy(w, p, 16);
  if (w[0] < 16 || w[0] > (1ULL << 40) || w[1] != tag_of(p, w[0]))
    die("block %p: head stamp corrupted after a cross-thread hand-off", p);
}
// The first 16 bytes of stamp() only: where a program cannot afford to touch
// more of a block than the allocator does (reclaimer), checked by verify_head().
inline void stamp_head(void* p, size_t n) {
  const uint64_t w[2] = {n, tag_of(p, n)};
  std::memcpy(p, w, 16);
}
// malloc + check + stamp
inline void* alloc_stamped(size_t n) {
  void* p = std::malloc(n);
  check_ptr(p, n);
  stamp(p, n);
  return p;
}
// verify + free; returns the size
inline size_t free_verified(void* p, size_t expect = 0) {
  size_t n = verify(p, expect);
  std::free(p);
  return n;
}

// ---- whole-block patterns: every byte written, every byte checked ----
//
// For programs whose originals write (and read back) the whole block, and for
// blocks of any size n >= 1 (stamp() needs n >= 16). The pattern depends on the
// address, the size and a salt the holder keeps (an allocation serial, say), so
// a block handed out twice is caught even when both holders asked for the same
// size. Word k holds pattern_word(seed, k); the n % 8 tail bytes hold the low
// bytes of the next word.
inline uint64_t pattern_seed(const void* p, size_t n, uint64_t salt) {
  return mix64(tag_of(p, n) ^ (salt * 0x9e3779b97f4a7c15ULL));
}
inline uint64_t pattern_word(uint64_t seed, size_t k) { return seed + k * 0xd1b54a32d192ed03ULL; }
inline void fill_pattern(void* p, size_t n, uint64_t salt) {
  auto* b = static_cast<unsigned char*>(p);
  const uint64_t seed = pattern_seed(p, n, salt);
  const size_t words = n / 8;
  for (size_t k = 0; k < words; ++k) {
    const uint64_t w = pattern_word(seed, k);
    std::memcpy(b + 8 * k, &w, 8);
  }
  if (n % 8) {
    const uint64_t w = pattern_word(seed, words);
    std::memcpy(b + 8 * words, &w, n % 8);
  }
}
inline void check_pattern(const void* p, size_t n, uint64_t salt) {
  auto* b = static_cast<const unsigned char*>(p);
  const uint64_t seed = pattern_seed(p, n, salt);
  const size_t words = n / 8;
  uint64_t bad = 0;
  for (size_t k = 0; k < words; ++k) {
    uint64_t w;
    std::memcpy(&w, b + 8 * k, 8);
    bad |= w ^ pattern_word(seed, k);
  }
  if (n % 8) {
    uint64_t w = 0, want = pattern_word(seed, words);
    std::memcpy(&w, b + 8 * words, n % 8);
    bad |= (w ^ want) & ((uint64_t{1} << (8 * (n % 8))) - 1);  // little-endian: the low bytes
  }
  if (bad) die("block %p (size %zu): contents corrupted (whole-block pattern)", p, n);
}

// ---- timing ----
using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---- start gate: all threads park, then are released at once ----
// Uses C++20 atomic wait/notify (futex), so 32 waiting threads on 2 cores do not spin.
class StartGate {
 public:
  explicit StartGate(int n) : expected_(n) {}
  // called by each worker; returns when main opens the gate
  void arrive_and_wait() {
    if (ready_.fetch_add(1) + 1 == expected_) ready_.notify_all();
    open_.wait(0);
  }
  // called by main: waits for all workers to arrive, opens the gate, returns t0
  Clock::time_point open() {
    for (int r = ready_.load(); r < expected_; r = ready_.load()) ready_.wait(r);
    t0_ = Clock::now();
    open_.store(1);  // publishes t0_ to the workers
    open_.notify_all();
    return t0_;
  }
  // the moment the gate opened (valid in workers once arrive_and_wait returned)
  Clock::time_point t0() const { return t0_; }
  double seconds_since_open() const { return seconds_since(t0_); }

 private:
  Clock::time_point t0_{};
  int expected_;
  std::atomic<int> ready_{0};
  std::atomic<int> open_{0};
};

// ---- memory for the rig itself: mmap, never the allocator under test ----
template <class T>
T* rig_alloc(size_t count) {
  size_t bytes = (count * sizeof(T) + 4095) & ~size_t{4095};
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap(%zu) for the benchmark rig failed", bytes);
  return static_cast<T*>(p);  // zero-filled; T must be trivially constructible from zeros
}
template <class T>
void rig_free(T* p, size_t count) {
  size_t bytes = (count * sizeof(T) + 4095) & ~size_t{4095};
  munmap(p, bytes);
}

// Bounded multi-producer / single-consumer ring of non-null pointers.
// A slot is empty when it holds nullptr. Producers reserve a position with a CAS
// on tail (after checking there is room against head), then publish the pointer;
// the consumer takes slots in order, clears them, and advances head.
// Lives in rig_alloc'd (mmap) memory: construct with init().
struct alignas(64) MpscRing {
  alignas(64) std::atomic<uint64_t> tail;  // next position to reserve (producers)
  alignas(64) std::atomic<uint64_t> head;  // next position to consume (owner)
  uint64_t mask;
  std::atomic<void*>* slots;

  void init(size_t capacity_pow2) {
    mask = capacity_pow2 - 1;
    slots = rig_alloc<std::atomic<void*>>(capacity_pow2);
    tail.store(0);
    head.store(0);
  }
  void destroy() { rig_free(slots, mask + 1); }
  // returns false when full
  bool push(void* p) {
    uint64_t t = tail.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t h = head.load(std::memory_order_acquire);
      if (t - h > mask) return false;
      if (tail.compare_exchange_weak(t, t + 1, std::memory_order_relaxed)) break;
    }
    slots[t & mask].store(p, std::memory_order_release);
    return true;
  }
  // consumer only; returns nullptr when empty (or next slot not yet published)
  void* pop() {
    uint64_t h = head.load(std::memory_order_relaxed);
    void* p = slots[h & mask].load(std::memory_order_acquire);
    if (p == nullptr) return nullptr;
    slots[h & mask].store(nullptr, std::memory_order_relaxed);
    head.store(h + 1, std::memory_order_release);
    return p;
  }
};

// Bounded single-producer / single-consumer ring (cached indices).
struct alignas(64) SpscRing {
  alignas(64) std::atomic<uint64_t> tail;
  uint64_t head_cache;  // producer's view of head
  alignas(64) std::atomic<uint64_t> head;
  uint64_t tail_cache;  // consumer's view of tail
  alignas(64) uint64_t mask;
  void** slots;

  void init(size_t capacity_pow2) {
    mask = capacity_pow2 - 1;
    slots = rig_alloc<void*>(capacity_pow2);
    tail.store(0);
    head.store(0);
    head_cache = tail_cache = 0;
  }
  void destroy() { rig_free(slots, mask + 1); }
  bool push(void* p) {
    uint64_t t = tail.load(std::memory_order_relaxed);
    if (t - head_cache > mask) {
      head_cache = head.load(std::memory_order_acquire);
      if (t - head_cache > mask) return false;
    }
    slots[t & mask] = p;
    tail.store(t + 1, std::memory_order_release);
    return true;
  }
  void* pop() {
    uint64_t h = head.load(std::memory_order_relaxed);
    if (h == tail_cache) {
      tail_cache = tail.load(std::memory_order_acquire);
      if (h == tail_cache) return nullptr;
    }
    void* p = slots[h & mask];
    head.store(h + 1, std::memory_order_release);
    return p;
  }
};

inline size_t round_pow2(size_t v) {
  size_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Peak resident set of this process (VmHWM, KiB), or 0 if unknown. The runner
// prefers this to wait4's ru_maxrss, which for a child spawned from a big parent
// starts at the parent's RSS (the kernel carries the pre-exec mm's high-water
// mark into the child's maxrss).
// A "Key:   N kB" field of /proc/self/status.
inline long status_kib(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long kib = 0;
  size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, n) == 0) kib = std::strtol(line + n, nullptr, 10);
  std::fclose(f);
  return kib;
}
inline long peak_rss_kib() { return status_kib("VmHWM:"); }
inline long rss_kib() { return status_kib("VmRSS:"); }

// ---- result line: one per program, parsed by tools/bench ----
// RESULT name=<bench> ops_per_sec=<float> seconds=<float> ops=<n> peak_rss_kib=<n> [key=value ...]
// With BENCH_IDLE_MS=N the program sits idle for N ms after the run (its
// blocks freed) and also reports idle_rss_kib: how much memory the allocator
// still holds once the program stops needing it.
inline void print_result(const char* name, double ops, double secs, const std::string& extra = "") {
  std::string more = extra;
  if (const char* idle = std::getenv("BENCH_IDLE_MS")) {
    long ms = std::strtol(idle, nullptr, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    more += (more.empty() ? "" : " ") + std::string("idle_rss_kib=") + std::to_string(rss_kib()) +
            " idle_ms=" + std::to_string(ms);
  }
  std::printf("RESULT name=%s ops_per_sec=%.1f seconds=%.4f ops=%.0f peak_rss_kib=%ld%s%s\n", name,
              secs > 0 ? ops / secs : 0.0, secs, ops, peak_rss_kib(), more.empty() ? "" : " ", more.c_str());
  std::fflush(stdout);
}

}  // namespace hzb
