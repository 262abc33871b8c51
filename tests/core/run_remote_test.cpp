// The page-level remote lane (HZ_REMOTE_LITE, lane r90; remote/run_remote.h):
// only the push that finds a run's list empty queues the run; the owner loses
// no wake-up (every block comes back exactly once, however pushes and drains
// interleave); and no block is stranded in a run's list: thread exit, hz_trim,
// the exhaustion sequence and the decay collect them. Built in every lane, run
// in r90 (elsewhere the lane's code is compiled out and the tests skip).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "hakozuna.h"

#if !HZ_REMOTE_LITE
TEST(RunRemote, LaneOff) { GTEST_SKIP() << "built without HZ_REMOTE_LITE (-DHAKOZUNA_LANE=r90)"; }
#else
#include "arena/arena.h"
#include "budget/budget.h"
#include "central/central.h"
#include "remote/run_remote.h"
#include "shard/shard.h"

using namespace hz;

namespace {

RunMeta* run_of(const void* p) {
  size_t page = arena::page_of(p);
  return arena::meta_of(run_first_page(page));
}

// A shard no thread of these tests uses: its run queue has one consumer, the
// test. (Threads take the lowest free shard ids.)
constexpr unsigned kOwner = kShards - 1;
const unsigned kCls = class_of(64);

// n fresh blocks of kCls carved for kOwner, and the runs they came from.
// The first block of each run is kept back (never pushed), so no reclaim can
// ever find a run wholly free and give it away under the test.
std::vector<FreeBlock*> carve_blocks(size_t n, std::vector<RunMeta*>* runs) {
  hz_free(hz_malloc(1));  // the arena exists
  std::vector<FreeBlock*> out;
  RunMeta* last_run = nullptr;
  while (out.size() < n) {
    unsigned got = 0;
    FreeBlock* last = nullptr;
    FreeBlock* b = central::carve(kOwner, kCls, 64, &got, &last);
    EXPECT_NE(b, nullptr);
    if (!b) break;
    for (unsigned i = 0; i < got; ++i, b = b->next()) {
      if (run_of(b) != last_run) {
        last_run = run_of(b);
        runs->push_back(last_run);
        continue;
      }
      if (out.size() < n) out.push_back(b);
    }
  }
  return out;
}

// What up to `lists` owner refills take (one run's list each, the later ones
// into a bin that is not empty), under the owner's OwnerExcl.
std::vector<FreeBlock*> owner_refill(unsigned lists) {
  Bin bin{};
  shard::excl_lock(kOwner);
  for (unsigned i = 0; i < lists && run_remote::refill(bin, kOwner, kCls); ++i) {
  }
  shard::excl_unlock(kOwner);
  // Keep the decay off this shard: it reclaims only shards quiet for a tick.
  g_shards[kOwner].events.fetch_add(1, std::memory_order_relaxed);
  std::vector<FreeBlock*> got;
  FreeBlock* b = bin.head;
  for (uint32_t i = 0; i < bin.count(); ++i, b = b->next()) {
    EXPECT_NE(b, nullptr) << "bin shorter than its count";
    if (!b) break;
    got.push_back(b);
  }
  EXPECT_EQ(b, nullptr) << "bin longer than its count";
  return got;
}

size_t queue_length() {
  size_t n = 0;
  for (RunMeta* r = run_remote::g_runq[kOwner].head[kCls].load(); r; r = r->remote.next) ++n;
  return n;
}

TEST(RunRemote, OnlyThePushThatFindsTheListEmptyQueuesTheRun) {
  std::vector<RunMeta*> runs;
  std::vector<FreeBlock*> blocks = carve_blocks(200, &runs);
  ASSERT_GE(runs.size(), 2u);
  std::vector<FreeBlock*> one, two;
  for (FreeBlock* b : blocks) (run_of(b) == runs[0] ? one : two).push_back(b);
  ASSERT_GE(one.size(), 5u);

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(run_remote::push(one[i], kCls, kOwner));
  EXPECT_EQ(queue_length(), 1u) << "a run is queued once, by its first push";
  EXPECT_EQ(runs[0]->remote.queued, 1);
  ASSERT_TRUE(run_remote::push(two[0], kCls, kOwner));
  EXPECT_EQ(queue_length(), 2u);

  std::vector<FreeBlock*> got = owner_refill(1000);
  EXPECT_EQ(got.size(), 6u);
  EXPECT_FALSE(run_remote::pending(kOwner, kCls));
  EXPECT_TRUE(run_remote::idle(runs[0]));
  EXPECT_TRUE(run_remote::idle(runs[1]));
  // Drained, the run is queued again by its next push.
  ASSERT_TRUE(run_remote::push(one[5], kCls, kOwner));
  EXPECT_EQ(queue_length(), 1u);
  EXPECT_EQ(owner_refill(1000).size(), 1u);
}

TEST(RunRemote, RunsNotNeededYetStayQueuedInTheShard) {
  std::vector<RunMeta*> runs;
  std::vector<FreeBlock*> blocks = carve_blocks(300, &runs);
  for (FreeBlock* b : blocks) ASSERT_TRUE(run_remote::push(b, kCls, kOwner));
  // One refill takes one run's list; the others stay held, still queued.
  std::vector<FreeBlock*> first = owner_refill(1);
  EXPECT_GE(first.size(), 1u);
  EXPECT_TRUE(run_remote::pending(kOwner, kCls));
  EXPECT_EQ(queue_length(), 0u);
  size_t total = first.size();
  while (run_remote::pending(kOwner, kCls)) total += owner_refill(1).size();
  EXPECT_EQ(total, blocks.size());
  for (RunMeta* r : runs) EXPECT_TRUE(run_remote::idle(r));
}

TEST(RunRemote, TakeAllCollectsQueuedAndHeldRuns) {
  std::vector<RunMeta*> runs;
  std::vector<FreeBlock*> blocks = carve_blocks(300, &runs);
  for (FreeBlock* b : blocks) ASSERT_TRUE(run_remote::push(b, kCls, kOwner));
  size_t got = owner_refill(1).size();  // leaves runs held
  shard::excl_lock(kOwner);
  for (FreeBlock* b = run_remote::take_all(kOwner, kCls); b; b = b->next()) ++got;
  shard::excl_unlock(kOwner);
  EXPECT_EQ(got, blocks.size());
  EXPECT_FALSE(run_remote::pending(kOwner, kCls));
  for (RunMeta* r : runs) EXPECT_TRUE(run_remote::idle(r));
}

// The lost-wake-up test: many producers push blocks of a few runs while one
// owner drains, sleeping between drains; each block the owner gets back goes
// to the producers again, so the same lists flip empty <-> non-empty all the
// time. A wake-up lost between a drain and a push would leave blocks in a list
// whose run is not queued: they would never come back. Every push must come
// back exactly once, and at the end every block is back.
TEST(RunRemote, ManyProducersOneSleepingOwnerEveryBlockBackExactlyOnce) {
  constexpr int kProducers = 6;
  constexpr size_t kPushes = 300000;
  std::vector<RunMeta*> runs;
  std::vector<FreeBlock*> blocks = carve_blocks(200, &runs);  // about 4 runs
  std::unordered_map<FreeBlock*, size_t> index;
  for (size_t i = 0; i < blocks.size(); ++i) index[blocks[i]] = i;
  std::vector<std::atomic<int>> out(blocks.size());  // 1 while pushed, not yet back

  std::mutex pool_mu;  // the blocks the producers may push next (test plumbing)
  std::vector<FreeBlock*> pool = blocks;
  std::atomic<size_t> pushes{0};
  std::atomic<int> ready{0}, done{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < kProducers + 1) std::this_thread::yield();
      while (pushes.load(std::memory_order_relaxed) < kPushes && std::chrono::steady_clock::now() < deadline) {
        FreeBlock* b = nullptr;
        {
          std::lock_guard<std::mutex> g(pool_mu);
          if (!pool.empty()) {
            b = pool.back();
            pool.pop_back();
          }
        }
        if (!b) {  // everything is on run lists: the owner must come
          std::this_thread::yield();
          continue;
        }
        out[index[b]].store(1, std::memory_order_relaxed);
        ASSERT_TRUE(run_remote::push(b, kCls, kOwner));
        pushes.fetch_add(1, std::memory_order_relaxed);
      }
      done.fetch_add(1);
    });
  }
  std::mt19937 rng(7);
  size_t back = 0;
  ready.fetch_add(1);
  for (;;) {
    bool finished = done.load() == kProducers;  // read before looking at the queue
    std::vector<FreeBlock*> got = owner_refill(1 + rng() % 4);
    for (FreeBlock* b : got) {
      auto it = index.find(b);
      ASSERT_NE(it, index.end()) << "a block nobody pushed";
      ASSERT_EQ(out[it->second].exchange(0), 1) << "a block came back twice";
    }
    back += got.size();
    {
      std::lock_guard<std::mutex> g(pool_mu);
      pool.insert(pool.end(), got.begin(), got.end());
    }
    if (finished && !run_remote::pending(kOwner, kCls)) break;
    if (rng() % 4) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100));
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(back, pushes.load()) << "pushes never came back: a lost wake-up";
  EXPECT_EQ(pool.size(), blocks.size());
  EXPECT_GE(pushes.load(), kPushes / 10) << "too few pushes to mean anything";
  for (RunMeta* r : runs) EXPECT_TRUE(run_remote::idle(r));
}

// ---- end to end, through hz_*: nothing waits in a run list for good ----

constexpr size_t kSize = 100;
constexpr size_t kCount = 20000;

// A thread that allocates kCount blocks, hands them over and then idles
// until released (or exits at once).
struct Owner {
  std::vector<void*> blocks;
  std::vector<RunMeta*> runs;
  unsigned shard = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool handed = false, release = false;
  std::thread t;

  explicit Owner(bool idle) {
    t = std::thread([this, idle] {
      for (size_t i = 0; i < kCount; ++i) blocks.push_back(hz_malloc(kSize));
      shard = t_cache->real->shard;
      for (void* p : blocks) runs.push_back(run_of(p));
      std::unique_lock<std::mutex> g(mu);
      handed = true;
      cv.notify_all();
      if (idle) cv.wait(g, [this] { return release; });
    });
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [this] { return handed; });
  }
  void finish() {
    {
      std::lock_guard<std::mutex> g(mu);
      release = true;
    }
    cv.notify_all();
    t.join();
  }
  // Frees every block from the calling thread: remote frees, into run lists.
  // Returns whether they wait there. (The owner's OwnerExcl keeps the decay
  // off its shard meanwhile.)
  bool free_all_here() {
    hz_free(hz_malloc(1));  // this thread has its own shard
    EXPECT_NE(t_cache->real->shard, shard) << "the frees must be remote";
    shard::excl_lock(shard);
    for (void* p : blocks) hz_free(p);
    bool waiting = run_remote::pending(shard, class_of(kSize));
    shard::excl_unlock(shard);
    return waiting;
  }
  bool collected() const {
    if (run_remote::pending(shard, class_of(kSize))) return false;
    for (RunMeta* r : runs)
      if (!run_remote::idle(r)) return false;
    return true;
  }
};

TEST(RunRemote, ThreadExitCollectsRunLists) {
  Owner o(true);
  EXPECT_TRUE(o.free_all_here());
  o.finish();  // the last thread of its shard reclaims it at exit
  EXPECT_TRUE(o.collected());
}

TEST(RunRemote, TrimCollectsRunListsOfAnIdleOwner) {
  Owner o(true);
  size_t before = arena::usage().in_use_bytes;  // (the decay may start on them before the trim)
  EXPECT_TRUE(o.free_all_here());
  hz_trim();
  EXPECT_TRUE(o.collected());
  EXPECT_LT(arena::usage().in_use_bytes + kCount * kSize / 2, before) << "the emptied runs went back";
  o.finish();
}

TEST(RunRemote, ExhaustionSequenceCollectsRunListsOfAnIdleOwner) {
  Owner o(true);
  EXPECT_TRUE(o.free_all_here());
  budget::on_exhaustion(1, false);
  EXPECT_TRUE(o.collected());
  o.finish();
}

TEST(RunRemote, DecayCollectsRunListsOfAnIdleOwner) {
  Owner o(true);
  EXPECT_TRUE(o.free_all_here());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!o.collected() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(o.collected()) << "the decay never reached the run lists";
  o.finish();
}

}  // namespace
#endif
