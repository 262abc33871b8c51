// libFuzzer harness: sequences of hz_* calls, some on worker threads, checked
// against a shadow model (hz_model.h): contents, usable size >= request,
// alignment, no overlap between live blocks, errno on refused requests.
//
// Build (clang 14, AddressSanitizer; the library is built with its override off):
//   cmake -S tests/fuzz -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//   cmake --build build-fuzz -j2
// Short deterministic run (part of tools/test.sh): ctest --test-dir build-fuzz
// Long run (new inputs go to build-fuzz/corpus, crashes to build-fuzz/crash-*):
//   mkdir -p build-fuzz/corpus && build-fuzz/hz_api_fuzz -max_total_time=600 \
//     -max_len=4096 -timeout=60 -artifact_prefix=build-fuzz/ build-fuzz/corpus tests/fuzz/corpus
//   HZ_FUZZ_HANDOFF=1 ... the same, with every op on a block run by a thread
//     other than the one that allocated it (remote frees and reallocs).
// Stress setting (tiny caches, 8 shards, borrowing at once, idle memory purged
// at once): configure with -DHAKOZUNA_LANE=fast "-DHAKOZUNA_DEFINES=HZ_BIN_MAX_BYTES=4096;
// HZ_SPILL_MAX_BYTES=4096;HZ_SPILL_CAP=2;HZ_BORROW_AFTER_BYTES=0" (one line), run
// with HAKOZUNA_PURGE_DELAY_MS=0.
// Replay one input: build-fuzz/hz_api_fuzz FILE (with the HZ_FUZZ_HANDOFF it was found with).
// A crash becomes a regression test: copy the input into tests/fuzz/corpus/
// (ctest replays the corpus in both modes).
//
// Input format: a sequence of ops; bytes past the end read as 0. Each op is one
// byte, low 4 bits the op (see `switch` below), high 4 bits the thread (0-7:
// main, 8-11: worker 1, 12-15: worker 2), then the op's arguments. Workers run
// one op at a time while the main thread waits, so a run is deterministic per
// input and every block is touched by one thread at a time.
#include <errno.h>
#include <hakozuna.h>
#include <stdint.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <thread>

#include "hakozuna.h"
#include "hz_model.h"


namespace hzfuzz {
namespace {

constexpr size_t kMaxLive = 4096;               // blocks
constexpr size_t kMaxLiveBytes = size_t{32} << 20;  // keeps every allocation in reach
constexpr size_t kMaxBurstBytes = size_t{4} << 20;   // page faults dominate beyond
const uint8_t kZeros[4096] = {};

// A thread that runs one job at a time for the main thread, which waits
// (std::atomic wait: a futex, after a short spin in the library; no spinning
// of our own, as the test machines are often loaded).
class Worker {
  using Job = std::function<void()>;

 public:
  Worker() { start(); }
  ~Worker() { stop(); }
  void run(const Job& f) {
    job_.store(&f, std::memory_order_release);
    job_.notify_one();
    await(job_, &f);  // until the worker has cleared it
  }
  // The thread exits (its hz cache goes back) and a new one takes its place.
  void restart() { stop(), start(); }

 private:
  static void await(std::atomic<const Job*>& a, const Job* old) {
    while (a.load(std::memory_order_acquire) == old) a.wait(old, std::memory_order_acquire);
  }
  void start() { th_ = std::thread([this] { loop(); }); }
  void stop() {
    run(kQuit);
    th_.join();
  }
  void loop() {
    for (;;) {
      await(job_, nullptr);
      const Job* j = job_.load(std::memory_order_acquire);
      if (j == &kQuit) return job_.store(nullptr, std::memory_order_release), job_.notify_one();
      (*j)();
      job_.store(nullptr, std::memory_order_release);
      job_.notify_one();
    }
  }
  static inline const Job kQuit;  // compared by address only
  std::atomic<const Job*> job_{nullptr};
  std::thread th_;
};

// Reads the input front to back; past the end, every read is 0.
struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t u8() { return n ? (--n, *p++) : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
};

// Request sizes biased to where the allocator changes behaviour: tiny and
// lookup-table classes, class boundaries (2^e * {4,5,6,7}/4 +- 2), the end of
// the small classes (256 KiB) and page spans (up to 1 MiB; 1 in 64 sizes up to
// 16 MiB, which go back to the OS at free). Big sizes are kept rare: filling
// fresh pages is most of a run's time.
size_t size_arg(Reader& r) {
  uint8_t k = r.u8();
  uint32_t v = r.u16();
  switch (k % 8) {
    case 0: case 1: return v % 129;
    case 2: case 3: return v % 1025;
    case 4: return v % 65537;
    case 5: {
      size_t base = size_t{16} << (v % 16), s = base + (v >> 4) % 4 * base / 4;
      int d = static_cast<int>((v >> 6) % 5) - 2;
      return s + d;
    }
    case 6:
      if (v & 1) return (size_t{192} << 10) + v * 2;
      return size_t{(k & 0xc0) == 0xc0 ? v % 4096 : v % 256} * 4096 + (v >> 12) * 16;
    default: return v % 4097;
  }
}

// The alignment malloc owes a request: 16 from 16 bytes on (README), else the
// largest power of two that fits in it.
size_t natural_align(size_t req) {
  if (req >= 16) return 16;
  size_t a = 1;
  while (a * 2 <= req) a *= 2;
  return a;
}

struct Harness {
  Model m;
  Worker workers[2];
  bool handoff = false;  // HZ_FUZZ_HANDOFF=1: ops on a block run on another thread

  void on(unsigned t, const std::function<void()>& f) { t == 0 ? f() : workers[t - 1].run(f); }
  static unsigned thread_of(uint8_t op) { return op >> 4 < 8 ? 0 : op >> 4 < 12 ? 1 : 2; }
  // The thread for an op on an existing block.
  unsigned thread_for(uint8_t op, const Block& b) const {
    return handoff ? (b.tid + 1 + (op >> 7)) % 3 : thread_of(op);
  }
  bool room(size_t bytes) const { return m.live.size() < kMaxLive && m.live_bytes + bytes <= kMaxLiveBytes; }

  // A block just handed out: checked, then filled and recorded.
  void admit(void* p, size_t req, size_t align, Kind k, unsigned t, bool zero) {
    if (p == nullptr) fail("NULL for a request within reach", p, req, align);
    if (reinterpret_cast<uintptr_t>(p) % align != 0) fail("misaligned", p, req, align);
    size_t u = hz_usable_size(p);
    if (u < req) fail("usable size below the request", p, u, req);
    auto* b = static_cast<uint8_t*>(p);
    if (zero)  // memcmp, not a byte loop: the fuzzer instruments every compare in this file
      for (size_t i = 0; i < req; i += sizeof kZeros)
        if (std::memcmp(b + i, kZeros, std::min(sizeof kZeros, req - i)) != 0) fail("calloc block not zeroed", p, i, req);
    m.add({b, req, u, m.next_id(), static_cast<uint8_t>(t), k});
  }
  // Removes a block from the model, checking it first, and frees it on thread t.
  void release(size_t i, unsigned t, bool sized) {
    Block b = m.take(i);
    on(t, [&] {
      m.check(b);
      if (hz_usable_size(b.p) != b.usable) fail("usable size changed", b.p, hz_usable_size(b.p), b.usable);
      sized && b.kind != Kind::kAligned ? hz_free_sized(b.p, b.req) : hz_free(b.p);
    });
  }
  size_t pick(Reader& r) const { return r.u16() % m.live.size(); }

  void realloc_op(Reader& r, uint8_t op) {
    size_t n = size_arg(r);
    if (m.live.empty()) return;
    size_t i = pick(r);
    if (!room(n)) return;
    unsigned t = thread_for(op, m.live[i]);
    Block b = m.take(i);
    on(t, [&] {
      m.check(b);
      void* q = hz_realloc(b.p, n);
      if (n == 0) {  // frees, returns NULL (as glibc)
        if (q != nullptr) fail("realloc(p, 0) returned a block", q);
        return;
      }
      if (q == nullptr) fail("realloc failed within reach", b.p, n);
      size_t keep = b.req < n ? b.req : n;  // what realloc must carry over
      Block nb{static_cast<uint8_t*>(q), n, hz_usable_size(q), b.id, static_cast<uint8_t>(t), Kind::kRealloc};
      if (reinterpret_cast<uintptr_t>(q) % natural_align(n) != 0) fail("realloc misaligned", q, n);
      if (nb.usable < n) fail("usable size below the request", q, nb.usable, n);
      m.check(nb, keep);
      m.add(nb, keep);
    });
  }

  void aligned_op(Reader& r, uint8_t op, bool posix) {
    size_t n = size_arg(r);
    uint8_t a = r.u8();
    size_t align = size_t{1} << (a % 22);  // 1 B .. 2 MiB
    bool odd = a & 0x80;                   // a non-power of two: refused
    if (odd) align = align * 3;
    bool valid = !odd && (!posix || align % sizeof(void*) == 0);
    if (!room(n + align)) return;
    unsigned t = thread_of(op);
    on(t, [&] {
      errno = 0;
      void* q = nullptr;
      int rc = 0;
      if (posix) rc = hz_posix_memalign(&q, align, n);
      else q = hz_aligned_alloc(align, n);
      if (valid) {
        if (rc != 0) fail("posix_memalign failed", nullptr, align, n);
        admit(q, n, align > natural_align(n) ? align : natural_align(n), Kind::kAligned, t, false);
      } else if (posix ? rc != EINVAL || q != nullptr : q != nullptr || errno != EINVAL) {
        fail("bad alignment not refused with EINVAL", q, align, n);
      }
    });
  }

  // Requests that must fail cleanly, and calls that must do nothing.
  void bad_op(Reader& r, uint8_t op) {
    uint8_t k = r.u8() % 8;
    unsigned t = thread_of(op);
    if (k == 6 && m.live.empty()) return;
    size_t i = k == 6 ? pick(r) : 0;
    on(t, [&] {
      errno = 0;
      void* q = nullptr;
      switch (k) {
        case 0: q = hz_malloc(SIZE_MAX); break;
        case 1: q = hz_malloc(size_t{PTRDIFF_MAX} + 1); break;
        case 2: q = hz_calloc(size_t{1} << 33, size_t{1} << 33); break;
        case 3: q = hz_calloc(SIZE_MAX / 2 + 1, 2); break;
        case 4: q = hz_malloc(size_t{1} << 44); break;  // beyond the arena and RAM
        case 5: q = hz_realloc(nullptr, SIZE_MAX); break;
        case 6: {  // a failed realloc leaves the block as it was
          q = hz_realloc(m.live[i].p, SIZE_MAX);
          m.check(m.live[i]);
          break;
        }
        default:
          hz_free(nullptr);
          if (hz_usable_size(nullptr) != 0) fail("usable_size(NULL) != 0", nullptr);
          return;
      }
      if (q != nullptr || errno != ENOMEM) fail("impossible request not refused with ENOMEM", q, k, errno);
    });
  }

  void run(const uint8_t* data, size_t size) {
    Reader r{data, size};
    while (r.n) {
      uint8_t op = r.u8();
      unsigned t = thread_of(op);
      switch (op & 15) {
        case 0: case 14: {  // malloc
          size_t n = size_arg(r);
          if (room(n)) on(t, [&] { admit(hz_malloc(n), n, natural_align(n), Kind::kMalloc, t, false); });
          break;
        }
        case 1: {  // calloc: count x size
          size_t count = 1 + r.u8() % 16, n = size_arg(r) / count;
          if (room(count * n))
            on(t, [&] { admit(hz_calloc(count, n), count * n, natural_align(count * n), Kind::kCalloc, t, true); });
          break;
        }
        case 2: realloc_op(r, op); break;
        case 3: {  // realloc(NULL, n) is malloc
          size_t n = size_arg(r);
          if (room(n)) on(t, [&] { admit(hz_realloc(nullptr, n), n, natural_align(n), Kind::kRealloc, t, false); });
          break;
        }
        case 4: aligned_op(r, op, false); break;
        case 5: aligned_op(r, op, true); break;
        case 6: case 15: case 7: {  // free, free_sized
          if (m.live.empty()) break;
          size_t i = pick(r);
          release(i, thread_for(op, m.live[i]), (op & 15) == 7);
          break;
        }
        case 8: {  // usable size unchanged, contents intact
          if (m.live.empty()) break;
          size_t i = pick(r);
          on(thread_for(op, m.live[i]), [&] {
            const Block& b = m.live[i];
            if (hz_usable_size(b.p) != b.usable) fail("usable size changed", b.p, hz_usable_size(b.p), b.usable);
            m.check(b);
          });
          break;
        }
        case 9: {  // a burst of one size: empties bins, forces refills
          size_t count = 1 + r.u8(), n = size_arg(r);
          on(t, [&] {
            for (size_t k = 0; k < count && room(n) && k * n <= kMaxBurstBytes; ++k) admit(hz_malloc(n), n, natural_align(n), Kind::kMalloc, t, false);
          });
          break;
        }
        case 10: {  // a burst of frees, strided: fills bins, forces flushes
          size_t count = 1 + r.u8(), i = r.u16(), step = 1 + r.u8() % 4;
          for (size_t k = 0; k < count && !m.live.empty(); ++k, i += step) {
            size_t j = i % m.live.size();
            release(j, thread_for(op, m.live[j]), k & 1);
          }
          break;
        }
        case 11: on(t, [] { hz_trim(); }); break;
        case 12: workers[t == 2].restart(); break;
        case 13: bad_op(r, op); break;
      }
    }
    // Everything left is checked and freed, so each input starts empty.
    while (!m.live.empty()) release(m.live.size() - 1, 0, false);
  }
};

Harness* g_harness;

}  // namespace
}  // namespace hzfuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static hzfuzz::Harness h;
  const char* e = std::getenv("HZ_FUZZ_HANDOFF");
  h.handoff = e && *e == '1';
  if (h.handoff) std::fprintf(stderr, "hz_api_fuzz: HZ_FUZZ_HANDOFF=1: ops on a block run on another thread\n");
  hzfuzz::g_harness = &h;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hzfuzz::g_harness->run(data, size);
  return 0;
}
