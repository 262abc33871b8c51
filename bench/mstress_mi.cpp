// mstress_mi T SCALE ROUNDS
//
// The shape of mimalloc's stress test as mimalloc-bench runs it (`mstress T 50
// 25`), written from its description: thread churn with blocks that outlive
// their thread. ROUNDS rounds; each starts T fresh threads and joins them.
// Thread i makes A = 100 * SCALE * (i % 8 + 1) allocations into a growing
// array (grown with realloc, 100 000 entries at a time) and A/2 more into a
// "retained" array kept until the thread ends; each step allocates into one
// or the other (half and half while both have work left), then with 66%
// probability frees a random entry of the growing array, and with 25%
// probability swaps a random entry with a random cell of a shared transfer
// array of 1000 cells (so it gets a block another thread, maybe of an earlier
// round, allocated). Blocks are 2^k words: k < 5 for the growing array, k < 7
// for the retained one; 1% of them are 100x bigger, and of those a tenth
// 1000x and a hundredth 10 000x (up to 5 MiB). Every word of a block is
// written when it is allocated and checked before it is freed. Between rounds
// the main thread frees about half of the transfer cells (all after the last
// round). bench/mstress.cpp is the suite's older variant (fixed slots, fixed
// step counts).
//
// Validation: word k of a block of W words holds key(address) ^ (W - k), so a
// block says its own size (a block received from the transfer array is
// checked against that); the owner also checks the size it remembers.
//
// ops counted = malloc + free calls for the blocks (the arrays' own realloc
// and malloc calls are not counted, though they run).
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr size_t kTransfers = 1000;
constexpr size_t kGrow = 100000;
constexpr uint64_t kMaxWords = 64 * 10000;

std::atomic<uint64_t*>* g_transfer;  // rig memory

struct Entry {
  uint64_t* p;
  uint64_t words;
};

inline uint64_t key_of(const void* p) { return mix64((uint64_t)(uintptr_t)p ^ 0xbf58476d1ce4e5b9ULL); }

uint64_t* alloc_words(uint64_t words) {
  auto* p = static_cast<uint64_t*>(std::malloc(words * 8));
  check_ptr_sized(p, words * 8);
  const uint64_t key = key_of(p);
  for (uint64_t k = 0; k < words; ++k) p[k] = key ^ (words - k);
  return p;
}
// Checks every word; expect = 0: the block's own size word decides.
uint64_t check_words(const uint64_t* p, uint64_t expect) {
  const uint64_t key = key_of(p);
  const uint64_t words = p[0] ^ key;
  if (words == 0 || words > kMaxWords || (expect && words != expect))
    die("block %p: size word corrupted (%" PRIu64 " words, expected %" PRIu64 ")", (const void*)p, words, expect);
  uint64_t bad = 0;
  for (uint64_t k = 0; k < words; ++k) bad |= p[k] ^ key ^ (words - k);
  if (bad) die("block %p (%" PRIu64 " words): contents corrupted", (const void*)p, words);
  return words;
}

uint64_t draw_words(Rng& r, unsigned shift) {
  uint64_t w = uint64_t{1} << r.below(shift);
  if (r.percent(1)) {
    if (r.percent(1))
      w *= 10000;
    else if (r.percent(10))
      w *= 1000;
    else
      w *= 100;
  }
  return w;
}

uint64_t stress(int tid, uint64_t scale, uint64_t seed) {
  Rng rng(seed);
  uint64_t allocs = 100 * scale * uint64_t(tid % 8 + 1);
  uint64_t retain = allocs / 2;
  uint64_t ops = 0;
  Entry* data = nullptr;
  size_t data_cap = 0, data_top = 0;
  auto* retained = static_cast<Entry*>(std::malloc((retain ? retain : 1) * sizeof(Entry)));
  check_ptr_sized(retained, retain * sizeof(Entry));
  size_t retain_top = 0;
  auto drop = [&](Entry& e) {
    if (e.p) {
      check_words(e.p, e.words);
      std::free(e.p);
      ++ops;
      e.p = nullptr;
    }
  };

  while (allocs > 0 || retain > 0) {
    if (retain == 0 || (allocs > 0 && rng.percent(50))) {
      --allocs;
      if (data_top == data_cap) {
        data_cap += kGrow;
        data = static_cast<Entry*>(std::realloc(data, data_cap * sizeof(Entry)));
        check_ptr_sized(data, data_cap * sizeof(Entry));
      }
      const uint64_t w = draw_words(rng, 5);
      data[data_top++] = Entry{alloc_words(w), w};
    } else {
      --retain;
      const uint64_t w = draw_words(rng, 7);
      retained[retain_top++] = Entry{alloc_words(w), w};
    }
    ++ops;
    if (data_top > 0 && rng.percent(66)) drop(data[rng.below(data_top)]);
    if (data_top > 0 && rng.percent(25)) {
      Entry& e = data[rng.below(data_top)];
      uint64_t* got = g_transfer[rng.below(kTransfers)].exchange(e.p, std::memory_order_acq_rel);
      e = Entry{got, got ? check_words(got, 0) : 0};
    }
  }
  for (size_t i = 0; i < retain_top; ++i) drop(retained[i]);
  for (size_t i = 0; i < data_top; ++i) drop(data[i]);
  std::free(retained);
  std::free(data);
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s T SCALE ROUNDS\n", argv[0]);
    return 1;
  }
  const int threads = (int)arg_u64(argc, argv, 1, 4);
  const uint64_t scale = arg_u64(argc, argv, 2, 50);
  const uint64_t rounds = arg_u64(argc, argv, 3, 25);
  if (threads < 1 || threads > 1024 || rounds < 1) die("bad arguments");
  g_transfer = rig_alloc<std::atomic<uint64_t*>>(kTransfers);
  std::vector<uint64_t> ops(size_t(threads) * rounds, 0);  // before timing
  Rng rng(43 * 43);
  double total = 0;

  auto t0 = Clock::now();
  for (uint64_t r = 0; r < rounds; ++r) {
    std::vector<std::thread> th;  // thread start-up and exit are part of this workload
    th.reserve(threads);
    for (int t = 0; t < threads; ++t)
      th.emplace_back([&, r, t] { ops[r * threads + t] = stress(t, scale, (uint64_t(t) + 1) * 43 + (r << 20)); });
    for (auto& x : th) x.join();
    for (size_t i = 0; i < kTransfers; ++i)
      if (r + 1 == rounds || rng.percent(50))
        if (uint64_t* p = g_transfer[i].exchange(nullptr)) {
          check_words(p, 0);
          std::free(p);
          total += 1;
        }
  }
  double secs = seconds_since(t0);
  for (uint64_t o : ops) total += double(o);

  char extra[96];
  std::snprintf(extra, sizeof extra, "threads=%d scale=%" PRIu64 " rounds=%" PRIu64, threads, scale, rounds);
  print_result("mstress_mi", total, secs, extra);
  std::printf("mstress_mi: %" PRIu64 " rounds x %d threads, scale %" PRIu64 ": %.2f M ops/s\n", rounds, threads, scale,
              total / secs / 1e6);
  return 0;
}
