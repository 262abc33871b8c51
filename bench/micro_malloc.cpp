// micro_malloc: Google Benchmark microbenchmarks of the malloc/free paths.
// Plain malloc/free, so any allocator can be preloaded (LD_PRELOAD).
//
//   BM_MallocFree/<size>        malloc(size) + free on one thread (hot LIFO pair)
//   BM_MallocFreeBatch/<size>   64 mallocs then 64 frees (cache fill/drain, per block)
//   BM_CrossThreadFree/<size>   this thread mallocs batches of 256 blocks; a helper
//                               thread frees them (remote free path), per block
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

void BM_MallocFree(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(n);
    benchmark::DoNotOptimize(p);
    static_cast<char*>(p)[0] = 1;  // touch it, as a user would
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_MallocFreeBatch(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  constexpr int kBatch = 64;
  void* blocks[kBatch];
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      blocks[i] = std::malloc(n);
      benchmark::DoNotOptimize(blocks[i]);
      static_cast<char*>(blocks[i])[0] = 1;
    }
    for (int i = 0; i < kBatch; ++i) std::free(blocks[i]);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// Double-buffered hand-off: while the helper frees batch k, we allocate batch k+1.
void BM_CrossThreadFree(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  constexpr int kBatch = 256;
  static void* buf[2][kBatch];
  std::atomic<int64_t> posted{-1};  // index of the last batch handed over
  std::atomic<int64_t> freed{-1};   // index of the last batch the helper freed
  std::atomic<bool> stop{false};
  std::thread helper([&] {
    int64_t next = 0;
    for (;;) {
      int64_t p = posted.load(std::memory_order_acquire);
      if (p < next) {
        if (stop.load(std::memory_order_acquire) && posted.load() < next) return;
        std::this_thread::yield();
        continue;
      }
      for (int i = 0; i < kBatch; ++i) std::free(buf[next & 1][i]);
      freed.store(next, std::memory_order_release);
      ++next;
    }
  });
  int64_t k = 0;
  for (auto _ : state) {
    // buffer k&1 is free to refill once batch k-2 has been freed
    while (freed.load(std::memory_order_acquire) < k - 2) std::this_thread::yield();
    void** b = buf[k & 1];
    for (int i = 0; i < kBatch; ++i) {
      b[i] = std::malloc(n);
      benchmark::DoNotOptimize(b[i]);
      static_cast<char*>(b[i])[0] = 1;
    }
    posted.store(k, std::memory_order_release);
    ++k;
  }
  stop.store(true, std::memory_order_release);
  helper.join();
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t s : {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 1 << 20}) b->Arg(s);
}

}  // namespace

BENCHMARK(BM_MallocFree)->Apply(Sizes);
BENCHMARK(BM_MallocFreeBatch)->Arg(16)->Arg(256)->Arg(4096)->Arg(32768);
BENCHMARK(BM_CrossThreadFree)->Arg(16)->Arg(256)->Arg(4096)->UseRealTime();

BENCHMARK_MAIN();
