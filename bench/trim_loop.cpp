// trim_loop OPS EVERY [THREADS]
//
// malloc_trim(0) in a program's loop (issue 8 point 3): THREADS threads (one
// by default) replace random slots among 4096 with blocks of 16..2048 B,
// stamped and verified, and call malloc_trim(0) every EVERY operations (0:
// never). The two suite lines, trim_0 and trim_1000, should run at the same
// speed: a trim that finds little to return must cost little.
#include <malloc.h>

#include <vector>

#include "bench_common.h"

using namespace hzb;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OPS EVERY [THREADS]\n", argv[0]);
    return 1;
  }
  uint64_t ops = arg_u64(argc, argv, 1, 1000000);
  uint64_t every = arg_u64(argc, argv, 2, 0);
  int threads = (int)arg_u64(argc, argv, 3, 1);
  if (threads < 1) die("bad arguments");
  constexpr size_t kSlots = 4096;
  StartGate gate(threads);
  std::vector<std::thread> th;
  for (int t = 0; t < threads; ++t)
    th.emplace_back([&, t] {
      Rng rng(0x7e1a0000ULL + t);
      void** slots = rig_alloc<void*>(kSlots);
      gate.arrive_and_wait();
      for (uint64_t i = 1; i <= ops; ++i) {
        size_t s = rng.below(kSlots);
        if (slots[s]) free_verified(slots[s]);
        slots[s] = alloc_stamped(rng.range(16, 2048));
        if (every && i % every == 0) malloc_trim(0);
      }
      for (size_t s = 0; s < kSlots; ++s)
        if (slots[s]) free_verified(slots[s]);
      rig_free(slots, kSlots);
    });
  auto t0 = gate.open();
  for (auto& x : th) x.join();
  double secs = seconds_since(t0);
  char extra[64];
  std::snprintf(extra, sizeof extra, "every=%llu threads=%d", (unsigned long long)every, threads);
  print_result("trim_loop", double(ops) * threads, secs, extra);
  std::printf("trim_loop: %d thread(s), malloc_trim every %llu ops: %.2f M ops/s\n", threads,
              (unsigned long long)every, double(ops) * threads / secs / 1e6);
  return 0;
}
