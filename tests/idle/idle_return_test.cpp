// Idle return (issue 8, points 1-2; budget/idle_return.h): what sleeping
// threads keep in their caches goes back, and the exhaustion sequence reaches
// it. Linked against libhakozuna.so: idle return works only where our code is
// an object of its own. Runs with HAKOZUNA_PURGE_DELAY_MS=1000; while waiting
// the test makes no allocator call (RSS is read with open/read).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "sleepers.h"
#include "hakozuna.h"

namespace {

using reach::Parked;
using reach::rss_bytes;
using idle_test::Sleepers;
using idle_test::size_of;

const int kDelayMs = getenv("HAKOZUNA_PURGE_DELAY_MS") ? atoi(getenv("HAKOZUNA_PURGE_DELAY_MS")) : 500;

// The break-it case: 16 threads allocate 20 MiB each of 1-32 KiB blocks,
// free them and sleep. Without idle return 20% of the peak stayed, in their
// bins and spills, for good.
TEST(IdleReturn, WhatSleepingThreadsKeepGoesBack) {
  size_t base = rss_bytes();
  Sleepers s(16, 20);
  size_t peak = rss_bytes();
  auto start = std::chrono::steady_clock::now();
  size_t limit = base + (peak - base) / 10, now = rss_bytes();
  while (now >= limit && std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2 * kDelayMs)) {
    usleep(10 * 1000);
    now = rss_bytes();
  }
  long ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  printf("16 sleeping threads: RSS %zu MiB after their frees, %zu MiB %ld ms later (base %zu, delay %d ms)\n", peak >> 20,
         now >> 20, ms, base >> 20, kDelayMs);
  EXPECT_LT(now, limit) << "RSS " << (now >> 20) << " MiB; peak " << (peak >> 20) << " MiB";
}

// A thread woken after its cache was taken allocates and frees as before,
// and the purger, asleep by then, watches it again: its second fill goes back too.
TEST(IdleReturn, AThreadWokenAfterwardsIsWatchedAgain) {
  size_t base = rss_bytes();
  Parked first, second;
  std::atomic<int> stage{0};
  std::thread t([&] {
    for (int round = 0; round < 2; ++round) {
      std::vector<void*> blocks;
      for (unsigned i = 0; i < 3000; ++i) {
        void* p = malloc(size_of(i));
        memset(p, round, size_of(i));
        blocks.push_back(p);
      }
      for (void* p : blocks) free(p);
      stage = round * 2 + 1;
      (round == 0 ? first : second).wait();
    }
  });
  for (int round = 0; round < 2; ++round) {
    while (stage.load() < round * 2 + 1) usleep(1000);
    size_t peak = rss_bytes();
    size_t limit = base + (peak - base) / 10, now = peak;
    auto start = std::chrono::steady_clock::now();
    while (now >= limit && std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2 * kDelayMs)) {
      usleep(10 * 1000);
      now = rss_bytes();
    }
    EXPECT_LT(now, limit) << "round " << round << ": RSS " << (now >> 20) << " MiB; peak " << (peak >> 20) << " MiB";
    if (round == 0) {
      usleep(3 * kDelayMs * 1000);  // nothing left to watch: the purger sleeps
      first.release();
    }
  }
  second.release();
  t.join();
}

}  // namespace
