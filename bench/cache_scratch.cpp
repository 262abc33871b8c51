// cache_scratch T ITERS OBJSIZE REPS
//
// Passive false sharing test in the spirit of Hoard's cache-scratch, rewritten
// from its description. The main thread allocates T small objects back to back
// (so they likely share cache lines) and hands one to each of T threads. Each
// thread frees the object it was given, then ITERS times: allocates an object
// of OBJSIZE bytes, writes every byte of it REPS times, checks the bytes, and
// frees it. An allocator that gives a thread memory next to another thread's
// (for instance by reusing the freed, remotely-allocated object) makes the
// threads write to the same cache line, and the run slows down badly.
//
// ops counted = T * ITERS * REPS object write passes (each object: one malloc,
// REPS passes writing all its bytes, one free), so the figure is write passes/s.
#include <algorithm>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

struct Config {
  int threads;
  uint64_t iters, objsize, reps;
};

void* alloc_small(size_t n) {
  void* p = std::malloc(n);
  if (p == nullptr) die("malloc(%zu) returned NULL", n);
  size_t align = n >= 16 ? 16 : 8;
  if ((uintptr_t)p % align) die("malloc(%zu) returned %p: misaligned", n, p);
  return p;
}

void worker(const Config& c, int id, void* given, StartGate& gate, double& end_sec) {
  gate.arrive_and_wait();
  std::free(given);  // a free of memory allocated by the main thread
  for (uint64_t i = 0; i < c.iters; ++i) {
    auto* p = static_cast<volatile unsigned char*>(alloc_small(c.objsize));
    const unsigned char base = (unsigned char)(id * 31 + i);
    for (uint64_t j = 0; j < c.objsize; ++j) p[j] = base;
    for (uint64_t r = 0; r < c.reps; ++r)
      for (uint64_t j = 0; j < c.objsize; ++j) p[j] = (unsigned char)(p[j] + 1);
    const unsigned char want = (unsigned char)(base + c.reps);
    for (uint64_t j = 0; j < c.objsize; ++j)
      if (p[j] != want) die("object %p byte %" PRIu64 ": another thread wrote into it", (void*)p, j);
    std::free((void*)p);
  }
  end_sec = gate.seconds_since_open();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s T ITERS OBJSIZE REPS\n", argv[0]);
    return 1;
  }
  Config c;
  c.threads = (int)arg_u64(argc, argv, 1, 1);
  c.iters = arg_u64(argc, argv, 2, 0);
  c.objsize = arg_u64(argc, argv, 3, 8);
  c.reps = arg_u64(argc, argv, 4, 1);
  if (c.threads < 1 || c.objsize < 1) die("bad arguments");

  std::vector<void*> given(c.threads);
  for (auto& p : given) {
    p = alloc_small(c.objsize);
    std::memset(p, 0, c.objsize);
  }
  std::vector<double> end(c.threads, 0.0);
  StartGate gate(c.threads);
  std::vector<std::thread> th;
  for (int t = 0; t < c.threads; ++t)
    th.emplace_back(worker, std::cref(c), t, given[t], std::ref(gate), std::ref(end[t]));
  gate.open();
  for (auto& t : th) t.join();
  double secs = *std::max_element(end.begin(), end.end());

  double ops = double(c.threads) * c.iters * c.reps;
  char extra[96];
  std::snprintf(extra, sizeof extra, "threads=%d objsize=%" PRIu64 " reps=%" PRIu64, c.threads, c.objsize, c.reps);
  print_result("cache_scratch", ops, secs, extra);
  std::printf("cache-scratch: %d threads x %" PRIu64 " objects of %" PRIu64 " B x %" PRIu64 " writes: %.3f s\n",
              c.threads, c.iters, c.objsize, c.reps, secs);
  return 0;
}
