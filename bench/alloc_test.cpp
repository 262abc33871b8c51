// alloc_test T ITERS [MAXEXP [SLOTS]]
//
// The shape of alloc-test (OLogN's allocator tester, mimalloc-bench's
// alloc-test1 / alloc-test4), written from its description. T threads share
// SLOTS slots (default 2^18) equally, each thread its own part. Set-up: each
// slot gets a block with probability 1/2. Then each of ITERS steps per thread
// picks a slot, frees its block if it has one (after reading all of it), and
// otherwise allocates one there and writes all of it; at the end every block
// left is freed. Set-up and exit are timed too, as in the original.
//
// - Slots are not picked uniformly: an "80/20 rule applied six times" (7 tiers,
//   a tier of k% of the slots drawn with the binomial weight of its level):
//   26% of the steps hit the hottest 0.0064% of the slots, 39% the next
//   0.15%, 25% the next 1.5%, 8% the next 8%, and so on. Hot slots see a block
//   freed and another allocated over and over; cold ones keep theirs for long.
// - Sizes follow a power law: class k (probability 1/2^(k+1), k = 0 ..
//   MAXEXP-3, the last one taking the remainder) is uniform in (2^(k+2),
//   2^(k+3)]: half the blocks are 5-8 B, a quarter 9-16 B, ... up to
//   2^MAXEXP. The original's MAXEXP is 10 (blocks up to 1 KiB, mean ~24 B).
//
// Validation: every byte of a block gets a pattern (address, size and a
// per-thread allocation count, the original's "reincarnation") when it is
// written, and all of it is checked before the free.
//
// ops counted = malloc calls + free calls.
#include <algorithm>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

struct Slot {
  void* p;
  uint32_t size;
  uint32_t salt;
};

// Tier weights: C(6, j) 0.8^(6-j) 0.2^j. Tier i is drawn with weight
// kWeight[i] and covers the fraction kWeight[6 - i] of the slots.
constexpr double kWeight[7] = {0.262144, 0.393216, 0.245760, 0.081920, 0.015360, 0.001536, 0.000064};

struct Tiers {
  uint64_t threshold[6];  // cumulative weights, out of 2^32
  uint64_t start[8];      // first slot of each tier; start[7] = slots
  void init(uint64_t slots) {
    double acc = 0;
    for (int i = 0; i < 6; ++i) {
      acc += kWeight[i];
      threshold[i] = uint64_t(acc * 4294967296.0);
    }
    start[0] = 0;
    for (int i = 0; i < 7; ++i) {
      uint64_t len = uint64_t(double(slots) * kWeight[6 - i]);
      if (len < 1) len = 1;
      start[i + 1] = std::min(slots, start[i] + len);
    }
    start[7] = slots;
  }
  uint64_t pick(Rng& r) const {
    const uint64_t u = r.next() >> 32;
    int t = 0;
    while (t < 6 && u >= threshold[t]) ++t;
    while (start[t + 1] <= start[t]) --t;  // an empty tier (tiny SLOTS): use a hotter one
    return start[t] + r.below(start[t + 1] - start[t]);
  }
};

size_t draw_size(Rng& r, unsigned maxexp) {
  const uint64_t base = r.below(uint64_t{1} << (maxexp - 3)) + 1;
  const unsigned k = (unsigned)__builtin_ctzll(base) + 2;
  return (size_t{1} << k) + 1 + r.below(uint64_t{1} << k);
}

uint64_t worker(int id, uint64_t slots, uint64_t iters, unsigned maxexp, StartGate& gate) {
  Slot* slot = rig_alloc<Slot>(slots);
  Tiers tiers;
  tiers.init(slots);
  Rng rng(0xa110c000ULL + id);
  uint32_t salt = 0;
  uint64_t ops = 0;
  auto put = [&](Slot& s) {
    const size_t n = draw_size(rng, maxexp);
    void* p = std::malloc(n);
    check_ptr_sized(p, n);
    fill_pattern(p, n, salt);
    s = Slot{p, uint32_t(n), salt++};
    ++ops;
  };
  auto drop = [&](Slot& s) {
    check_pattern(s.p, s.size, s.salt);
    std::free(s.p);
    s.p = nullptr;
    ++ops;
  };
  gate.arrive_and_wait();
  for (uint64_t i = 0; i < slots; ++i)
    if (rng.percent(50)) put(slot[i]);
  for (uint64_t i = 0; i < iters; ++i) {
    Slot& s = slot[tiers.pick(rng)];
    if (s.p)
      drop(s);
    else
      put(s);
  }
  for (uint64_t i = 0; i < slots; ++i)
    if (slot[i].p) drop(slot[i]);
  rig_free(slot, slots);
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s T ITERS [MAXEXP [SLOTS]]\n", argv[0]);
    return 1;
  }
  const int threads = (int)arg_u64(argc, argv, 1, 1);
  const uint64_t iters = arg_u64(argc, argv, 2, 1000000);
  const unsigned maxexp = (unsigned)arg_u64(argc, argv, 3, 10);
  const uint64_t total_slots = arg_u64(argc, argv, 4, uint64_t{1} << 18);
  if (threads < 1 || threads > 1024 || maxexp < 4 || maxexp > 30 || total_slots < uint64_t(threads) * 64)
    die("bad arguments (T >= 1, 4 <= MAXEXP <= 30, SLOTS >= 64 T)");
  const uint64_t slots = total_slots / threads;

  std::vector<uint64_t> ops(threads, 0);
  StartGate gate(threads);
  std::vector<std::thread> th;
  for (int t = 0; t < threads; ++t) th.emplace_back([&, t] { ops[t] = worker(t, slots, iters, maxexp, gate); });
  auto t0 = gate.open();
  for (auto& x : th) x.join();
  double secs = seconds_since(t0);
  double total = 0;
  for (uint64_t o : ops) total += double(o);

  char extra[96];
  std::snprintf(extra, sizeof extra, "threads=%d slots_per_thread=%" PRIu64 " maxexp=%u", threads, slots, maxexp);
  print_result("alloc_test", total, secs, extra);
  std::printf("alloc_test: %d thread(s) x %" PRIu64 " steps over %" PRIu64 " slots, 5 B-%zu B: %.2f M ops/s\n",
              threads, iters, slots, size_t{1} << maxexp, total / secs / 1e6);
  return 0;
}
