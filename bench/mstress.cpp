// mstress T ROUNDS ITERS
//
// Stress test in the spirit of mimalloc-bench's mstress, rewritten from its
// description: mixed sizes, mixed lifetimes, and threads that are created and
// retired during the run. In each of ROUNDS rounds, T fresh threads start; each
// runs ITERS steps over 256 private slots:
//   50%  allocate into a random slot (freeing what was there),
//        size 85% 16-256 B, 13% 257 B-4 KiB, 2% 4-64 KiB
//   30%  free a random slot
//   20%  swap a private block with a random cell of a shared transfer array
//        (the block it gets back was allocated by some other thread, possibly
//        in an earlier round: it will be freed here, far from where it was born)
// A retiring thread parks half of its remaining blocks in the transfer array
// (long-lived blocks outliving their thread) and frees the rest. Threads of a
// round are joined before the next round starts.
//
// ops counted = malloc calls + free calls.
#include <algorithm>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr uint64_t kSlots = 256;
constexpr uint64_t kTransfer = 1024;

std::atomic<void*>* g_transfer;  // rig memory

size_t draw_size(Rng& r) {
  uint64_t b = r.below(100);
  if (b < 85) return r.range(16, 256);
  if (b < 98) return r.range(257, 4096);
  return r.range(4097, 65536);
}

uint64_t stress(uint64_t iters, uint64_t seed) {
  void* slot[kSlots] = {};
  Rng rng(seed);
  uint64_t ops = 0;
  auto drop = [&](void* p) {
    if (p) {
      free_verified(p);
      ++ops;
    }
  };
  for (uint64_t i = 0; i < iters; ++i) {
    uint64_t act = rng.below(100);
    uint64_t s = rng.below(kSlots);
    if (act < 50) {
      drop(slot[s]);
      slot[s] = alloc_stamped(draw_size(rng));
      ++ops;
    } else if (act < 80) {
      drop(slot[s]);
      slot[s] = nullptr;
    } else if (slot[s]) {
      void* got = g_transfer[rng.below(kTransfer)].exchange(slot[s], std::memory_order_acq_rel);
      if (got) verify(got);
      slot[s] = got;
    }
  }
  for (uint64_t s = 0; s < kSlots; ++s) {
    if (slot[s] && rng.percent(50)) {
      void* got = g_transfer[rng.below(kTransfer)].exchange(slot[s], std::memory_order_acq_rel);
      slot[s] = got;
    }
    drop(slot[s]);
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s T ROUNDS ITERS\n", argv[0]);
    return 1;
  }
  int threads = (int)arg_u64(argc, argv, 1, 1);
  uint64_t rounds = arg_u64(argc, argv, 2, 1);
  uint64_t iters = arg_u64(argc, argv, 3, 0);
  if (threads < 1 || rounds < 1) die("bad arguments");
  g_transfer = rig_alloc<std::atomic<void*>>(kTransfer);
  std::vector<uint64_t> ops(size_t(threads) * rounds, 0);  // before timing

  auto t0 = Clock::now();
  for (uint64_t r = 0; r < rounds; ++r) {
    std::vector<std::thread> th;  // thread start-up is part of this workload
    th.reserve(threads);
    for (int t = 0; t < threads; ++t)
      th.emplace_back([&, r, t] { ops[r * threads + t] = stress(iters, 0x3e3e0000ULL + r * 1000 + t); });
    for (auto& x : th) x.join();
  }
  double total = 0;
  for (uint64_t o : ops) total += double(o);
  for (uint64_t i = 0; i < kTransfer; ++i)
    if (void* p = g_transfer[i].exchange(nullptr)) {
      free_verified(p);
      total += 1;
    }
  double secs = seconds_since(t0);

  char extra[64];
  std::snprintf(extra, sizeof extra, "threads=%d rounds=%" PRIu64, threads, rounds);
  print_result("mstress", total, secs, extra);
  std::printf("mstress: %" PRIu64 " rounds x %d threads x %" PRIu64 " steps: %.2f M ops/s\n", rounds, threads, iters,
              total / secs / 1e6);
  return 0;
}
