// glibc_thread T ITERS
//
// The shape of glibc's benchtests/bench-malloc-thread, as mimalloc-bench runs
// it (written from its description): T threads, each with its own working set
// of 1024 slots; each of ITERS steps takes the next slot from a table of 4096
// random slot numbers and the next size from a table of 8000 random sizes
// (both made once, before timing, and walked cyclically by every thread from
// the start, as in the original), frees the block in that slot and puts a
// fresh malloc(size) there, writing every byte of it. Sizes follow an inverse
// square law between 4 B and 32 KiB: three blocks in four are under 16 B, the
// mean is about 36 B, a few are tens of KiB. The original runs for a fixed
// time; this one for a fixed number of steps.
//
// Validation: every byte of a block gets a pattern (address, size, step) when
// it is written, and all of it is checked before the free.
//
// ops counted = malloc calls + free calls.
#include <cmath>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr size_t kSlots = 1024;
constexpr size_t kSizes = 8000;
constexpr size_t kOffsets = 4 * kSlots;
constexpr double kMin = 4, kMax = 32768;

struct Slot {
  void* p;
  uint32_t size;
  uint32_t salt;
};

uint32_t* g_sizes;    // rig memory
uint32_t* g_offsets;  // rig memory

uint64_t worker(uint64_t iters, StartGate& gate) {
  Slot* slot = rig_alloc<Slot>(kSlots);
  size_t si = 0, oi = 0;
  uint64_t ops = 0;
  gate.arrive_and_wait();
  for (uint64_t i = 0; i < iters; ++i) {
    Slot& s = slot[g_offsets[oi]];
    const size_t n = g_sizes[si];
    oi = oi + 1 == kOffsets ? 0 : oi + 1;
    si = si + 1 == kSizes ? 0 : si + 1;
    if (s.p) {
      check_pattern(s.p, s.size, s.salt);
      std::free(s.p);
      ++ops;
    }
    void* p = std::malloc(n);
    check_ptr_sized(p, n);
    fill_pattern(p, n, uint32_t(i));
    s = Slot{p, uint32_t(n), uint32_t(i)};
    ++ops;
  }
  for (size_t k = 0; k < kSlots; ++k)
    if (slot[k].p) {
      check_pattern(slot[k].p, slot[k].size, slot[k].salt);
      std::free(slot[k].p);
      ++ops;
    }
  rig_free(slot, kSlots);
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s T ITERS\n", argv[0]);
    return 1;
  }
  const int threads = (int)arg_u64(argc, argv, 1, 1);
  const uint64_t iters = arg_u64(argc, argv, 2, 1000000);
  if (threads < 1 || threads > 1024) die("bad arguments");

  g_sizes = rig_alloc<uint32_t>(kSizes);
  g_offsets = rig_alloc<uint32_t>(kOffsets);
  Rng rng(88);
  for (size_t i = 0; i < kSizes; ++i) {
    // inverse transform of a density proportional to 1/x^2 on [kMin, kMax]
    const double u = double(rng.next() >> 11) / double(1ULL << 53);
    double x = 1.0 / (1.0 / kMin - u * (1.0 / kMin - 1.0 / kMax));
    g_sizes[i] = (uint32_t)std::min(kMax, std::max(kMin, std::floor(x)));
  }
  for (size_t i = 0; i < kOffsets; ++i) g_offsets[i] = (uint32_t)rng.below(kSlots);

  std::vector<uint64_t> ops(threads, 0);
  StartGate gate(threads);
  std::vector<std::thread> th;
  for (int t = 0; t < threads; ++t) th.emplace_back([&, t] { ops[t] = worker(iters, gate); });
  auto t0 = gate.open();
  for (auto& x : th) x.join();
  double secs = seconds_since(t0);
  double total = 0;
  for (uint64_t o : ops) total += double(o);

  char extra[64];
  std::snprintf(extra, sizeof extra, "threads=%d", threads);
  print_result("glibc_thread", total, secs, extra);
  std::printf("glibc_thread: %d thread(s) x %" PRIu64 " steps, 4 B-32 KiB inverse-square: %.2f M ops/s\n", threads,
              iters, total / secs / 1e6);
  return 0;
}
