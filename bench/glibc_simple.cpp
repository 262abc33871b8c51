// glibc_simple ITERS [SIZE]
//
// The shape of glibc's benchtests/bench-malloc-simple, as mimalloc-bench runs
// it (written from its description): for each block size SIZE, 2*SIZE and
// 4*SIZE (default 16, 32, 64 B) and each batch count N in 25, 100, 400, 1600:
// ITERS/N rounds of "malloc N blocks of that size and write all of each, then
// free the N blocks in the order they were allocated". Each (size, N) is run
// four times, as in the original: a warm-up and a run in the main thread of a
// single-threaded process, a run in a second thread, and a run in the main
// thread again once a second thread has existed. glibc measures its tcache and
// fastbins with it; for other allocators it is the thread-local fast path with
// a batch of live blocks that grows from 25 to 1600.
//
// Validation: every byte of a block gets a pattern (address, size, round and
// index) when it is written, and all of it is checked before the free.
//
// ops counted = malloc calls + free calls.
#include "bench_common.h"

using namespace hzb;

namespace {

constexpr int kCounts[4] = {25, 100, 400, 1600};

void** g_arr;  // rig memory, 1600 pointers

double batch_rounds(size_t size, int n, uint64_t rounds) {
  for (uint64_t j = 0; j < rounds; ++j) {
    const uint64_t salt = j << 11;
    for (int i = 0; i < n; ++i) {
      void* p = std::malloc(size);
      check_ptr_sized(p, size);
      fill_pattern(p, size, salt + i);
      g_arr[i] = p;
    }
    for (int i = 0; i < n; ++i) {
      check_pattern(g_arr[i], size, salt + i);
      std::free(g_arr[i]);
    }
  }
  return 2.0 * double(n) * double(rounds);
}

double pass(size_t size, uint64_t iters) {
  double ops = 0;
  for (int n : kCounts) ops += batch_rounds(size, n, iters / n < 1 ? 1 : iters / n);
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ITERS [SIZE]\n", argv[0]);
    return 1;
  }
  const uint64_t iters = arg_u64(argc, argv, 1, 2000000);
  const uint64_t size0 = arg_u64(argc, argv, 2, 16);
  if (size0 < 1 || size0 > (1u << 20)) die("bad arguments");
  g_arr = rig_alloc<void*>(1600);

  double ops = 0;
  auto t0 = Clock::now();
  for (size_t size = size0; size <= 4 * size0; size *= 2) {
    ops += pass(size, iters);  // warm-up, single-threaded process
    ops += pass(size, iters);  // main thread, single-threaded process
    std::thread th([&] { ops += pass(size, iters); });  // a second thread
    th.join();
    ops += pass(size, iters);  // main thread again, the process has had two threads
  }
  double secs = seconds_since(t0);

  char extra[64];
  std::snprintf(extra, sizeof extra, "size=%" PRIu64 " iters=%" PRIu64, size0, iters);
  print_result("glibc_simple", ops, secs, extra);
  std::printf("glibc_simple: sizes %" PRIu64 "-%" PRIu64 " B, batches of 25-1600: %.2f M ops/s\n", size0,
              4 * size0, ops / secs / 1e6);
  return 0;
}
