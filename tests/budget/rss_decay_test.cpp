// RSS follows the program (issue: memory budget, point 3). Run with
// HAKOZUNA_PURGE_DELAY_MS=1000: after 8 threads allocate a 2 GiB mix of small
// and medium blocks and free it all, RSS falls below 10% of the peak within
// twice the decay; malloc_trim(0) gets there at once.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

size_t rss_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) abort();
  fclose(f);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

uint32_t delay_ms() {
  const char* e = getenv("HAKOZUNA_PURGE_DELAY_MS");
  return e ? static_cast<uint32_t>(atoi(e)) : 500;
}

// 8 threads each allocate 256 MiB (sizes 16 B .. 32 KiB, touched), then free
// everything: half their own, half another thread's. Returns peak RSS.
size_t allocate_and_free_2gib() {
  constexpr int kThreads = 8;
  constexpr size_t kPerThread = size_t{256} << 20;
  std::vector<std::vector<void*>> held(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      size_t total = 0;
      while (total < kPerThread) {
        size_t sz = rng() % 4 == 0 ? 4096 + rng() % (32768 - 4096) : 16 + rng() % 2048;
        void* p = malloc(sz);
        ASSERT_NE(p, nullptr);
        memset(p, 0x5A, sz);
        held[static_cast<size_t>(t)].push_back(p);
        total += sz;
      }
    });
  for (auto& th : ts) th.join();
  size_t peak = rss_bytes();
  ts.clear();
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      auto& mine = held[static_cast<size_t>(t)];
      auto& other = held[static_cast<size_t>((t + 1) % kThreads)];
      for (size_t i = 0; i < mine.size(); i += 2) free(mine[i]);
      for (size_t i = 1; i < other.size(); i += 2) free(other[i]);
    });
  for (auto& th : ts) th.join();
  return peak;
}

}  // namespace

TEST(RssDecay, FallsBelowTenPercentOfPeakWithinTwiceTheDelay) {
  size_t base = rss_bytes();
  size_t peak = allocate_and_free_2gib();
  ASSERT_GT(peak, base + (size_t{1800} << 20)) << "the workload did not reach 2 GiB resident";
  auto start = std::chrono::steady_clock::now();
  size_t now = rss_bytes();
  while (now >= peak / 10 &&
         std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2 * delay_ms())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    now = rss_bytes();
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_LT(now, peak / 10) << "RSS " << (now >> 20) << " MiB after " << took.count() << " ms; peak "
                            << (peak >> 20) << " MiB, delay " << delay_ms() << " ms";
  printf("peak %zu MiB, RSS %zu MiB after %lld ms (delay %u ms)\n", peak >> 20, now >> 20,
         static_cast<long long>(took.count()), delay_ms());
}

TEST(RssDecay, MallocTrimReturnsMemoryAtOnce) {
  size_t peak = allocate_and_free_2gib();
  malloc_trim(0);
  size_t now = rss_bytes();
  EXPECT_LT(now, peak / 10) << "RSS " << (now >> 20) << " MiB right after malloc_trim; peak " << (peak >> 20);
}
