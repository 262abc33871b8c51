// xmalloc PAIRS COUNT MIN MAX
//
// Producer/consumer test in the spirit of Lever & Boreham's xmalloc-test,
// rewritten from its description: PAIRS independent pairs of threads. In each
// pair the producer allocates COUNT blocks (sizes uniform in [MIN, MAX]),
// stamps them and pushes them through a bounded SPSC ring (mmap'd, lock-free)
// to its consumer, which verifies and frees them. Every free is therefore a
// free of memory allocated by another thread. A full ring makes the producer
// yield, an empty one the consumer.
//
// ops counted = 2 * COUNT * PAIRS (each block: one malloc, one free).
#include <algorithm>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr size_t kRing = 4096;

struct Config {
  int pairs;
  uint64_t count, min, max;
};

void producer(const Config& c, SpscRing& ring, int id, StartGate& gate) {
  Rng rng(0x9a9a0000ULL + id);
  gate.arrive_and_wait();
  for (uint64_t i = 0; i < c.count; ++i) {
    void* p = alloc_stamped(rng.range(c.min, c.max));
    while (!ring.push(p)) std::this_thread::yield();
  }
}

void consumer(const Config& c, SpscRing& ring, StartGate& gate, double& end_sec) {
  gate.arrive_and_wait();
  for (uint64_t got = 0; got < c.count;) {
    void* p = ring.pop();
    if (p == nullptr) {
      std::this_thread::yield();
      continue;
    }
    free_verified(p);
    ++got;
  }
  end_sec = gate.seconds_since_open();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s PAIRS COUNT MIN MAX\n", argv[0]);
    return 1;
  }
  Config c;
  c.pairs = (int)arg_u64(argc, argv, 1, 1);
  c.count = arg_u64(argc, argv, 2, 0);
  c.min = arg_u64(argc, argv, 3, 16);
  c.max = arg_u64(argc, argv, 4, 16);
  if (c.pairs < 1 || c.min < 16 || c.max < c.min) die("bad arguments (need PAIRS>=1, 16<=MIN<=MAX)");

  auto* rings = rig_alloc<SpscRing>(c.pairs);
  for (int i = 0; i < c.pairs; ++i) rings[i].init(kRing);
  std::vector<double> end(c.pairs, 0.0);
  StartGate gate(2 * c.pairs);
  std::vector<std::thread> th;
  for (int i = 0; i < c.pairs; ++i) {
    th.emplace_back(producer, std::cref(c), std::ref(rings[i]), i, std::ref(gate));
    th.emplace_back(consumer, std::cref(c), std::ref(rings[i]), std::ref(gate), std::ref(end[i]));
  }
  gate.open();
  for (auto& t : th) t.join();
  double secs = *std::max_element(end.begin(), end.end());
  for (int i = 0; i < c.pairs; ++i) rings[i].destroy();

  double ops = 2.0 * double(c.count) * c.pairs;
  char extra[64];
  std::snprintf(extra, sizeof extra, "pairs=%d", c.pairs);
  print_result("xmalloc", ops, secs, extra);
  std::printf("xmalloc: %d producer/consumer pairs x %" PRIu64 " blocks: %.2f M ops/s\n", c.pairs, c.count,
              ops / secs / 1e6);
  return 0;
}
