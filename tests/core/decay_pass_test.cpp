// The decay pass and shards no thread used: it wrote every shard's
// decay_seen, so each process faulted in the pages of all of them (76 KiB of
// a single-threaded program's RSS) once it freed enough to run a pass. Those
// pages are made read-only here: a write there kills the test.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

#include "budget/budget.h"
#include "cache/thread_cache.h"
#include "config.h"
#include "hakozuna.h"
#include "shard/shard.h"

TEST(DecayPass, LeavesShardsNoThreadUsedUntouched) {
  if constexpr (hz::kShards < 2) GTEST_SKIP() << "one shard";
  hz_free(hz_malloc(64));  // this thread takes its shard
  const unsigned mine = hz::t_cache->real->shard;
  const uintptr_t pg = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  // Shards are smaller than a page: the pages wholly inside each stretch of
  // shards no thread holds.
  std::vector<std::pair<char*, size_t>> ro;
  bool covers_decay_seen = false;
  auto unused = [&](unsigned s) { return s != mine && hz::g_shards[s].threads.load() == 0; };
  for (unsigned s = 0; s < hz::kShards;) {
    if (!unused(s)) {
      ++s;
      continue;
    }
    unsigned e = s;
    while (e < hz::kShards && unused(e)) ++e;
    uintptr_t a = reinterpret_cast<uintptr_t>(&hz::g_shards[s]), b = reinterpret_cast<uintptr_t>(&hz::g_shards[e]);
    uintptr_t lo = (a + pg - 1) & ~(pg - 1), hi = b & ~(pg - 1);
    for (unsigned k = s; k < e; ++k) {
      uintptr_t seen = reinterpret_cast<uintptr_t>(&hz::g_shards[k].decay_seen);
      covers_decay_seen |= seen >= lo && seen < hi;
    }
    if (hi > lo) {
      ASSERT_EQ(mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_READ), 0);
      ro.emplace_back(reinterpret_cast<char*>(lo), hi - lo);
    }
    s = e;
  }
  ASSERT_TRUE(covers_decay_seen) << "no protected page holds a decay_seen: the test could not fail";
  // Twice past the pass's interval (a quarter of the delay): at least one runs.
  const auto wait = std::chrono::milliseconds(hz::budget::purge_delay_ms() / 4 + 20);
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(wait);
    hz::budget::note_idle_memory();
  }
  for (auto [p, n] : ro) ASSERT_EQ(mprotect(p, n, PROT_READ | PROT_WRITE), 0);
}
