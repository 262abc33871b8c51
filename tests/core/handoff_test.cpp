// Hand-offs (issue 13): a thread that frees blocks owned by another shard keeps
// them in its own bin while the bin has room and reuses them for its own
// mallocs (HZ_REMOTE_KEEP); what it cannot keep goes home through the remote
// stash, and comes back to the owner in one sequential run. Multi-threaded,
// through hz_* (also under ASan and TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "arena/arena.h"
#include "config.h"
#include "hakozuna.h"

namespace {

// A block (of whole cache lines) freed by a thread that does not own it comes
// back from that thread's next malloc of its class.
TEST(HandOff, AForeignBlockIsReusedByTheThreadThatFreedIt) {
  if (!hz::kRemoteKeep) GTEST_SKIP() << "HZ_REMOTE_KEEP=0";
  if (hz::kHardened) GTEST_SKIP() << "the hardened build's quarantine delays every reuse";
  // The owner stays alive throughout: a thread that starts after it exits
  // would take over its shard, and the free would not be a remote one.
  std::atomic<void*> p{nullptr};
  std::atomic<bool> done{false};
  std::thread owner([&] {
    p = hz_malloc(64);
    while (!done.load()) std::this_thread::yield();
    void* q = hz_malloc(64);  // whatever it gets, it is the owner's to free
    hz_free(q);
  });
  while (!p.load()) std::this_thread::yield();
  void* again = nullptr;
  std::thread freer([&] {
    void* own = hz_malloc(64);  // sets the thread up with a bin of this class
    hz_free(own);
    hz_free(p.load());          // foreign: kept, on top of the bin
    again = hz_malloc(64);
    hz_free(again);
  });
  freer.join();
  done = true;
  owner.join();
  EXPECT_EQ(again, p.load());
}

// ... but not a block smaller than a cache line: reusing it would put this
// thread's writes on a line it shares with other threads' blocks (passive
// false sharing, bench cache_scratch).
TEST(HandOff, ABlockSmallerThanACacheLineIsNotKept) {
  std::atomic<void*> p{nullptr};
  std::atomic<bool> done{false};
  std::thread owner([&] {
    p = hz_malloc(16);
    while (!done.load()) std::this_thread::yield();
  });
  while (!p.load()) std::this_thread::yield();
  void* again = nullptr;
  std::thread freer([&] {
    void* own = hz_malloc(16);
    hz_free(own);
    hz_free(p.load());  // foreign, 16 B: sent home
    again = hz_malloc(16);
    hz_free(again);
  });
  freer.join();
  done = true;
  owner.join();
  EXPECT_NE(again, p.load());
}

// Only what fits in the freeing thread's bin is kept: the rest goes home, and
// the owner's next mallocs reuse it instead of growing the heap. (Reused
// through its own lists, or through the page heap when the decay sorted them
// home and released their runs meanwhile: the arena's mapped bytes are the
// measure, not the addresses.)
TEST(HandOff, WhatTheBinCannotHoldGoesHome) {
  constexpr size_t kN = 60000, kSize = 256;  // 15 MiB
  std::vector<void*> blocks(kN);
  std::atomic<int> stage{0};
  std::vector<void*> again(kN);
  std::thread owner([&] {
    for (auto& p : blocks) p = hz_malloc(kSize);
    stage = 1;
    while (stage.load() < 2) std::this_thread::yield();
    for (auto& p : again) p = hz_malloc(kSize);
  });
  while (stage.load() < 1) std::this_thread::yield();
  std::thread freer([&] {
    for (void* p : blocks) hz_free(p);
  });
  freer.join();  // its exit hands home what it kept and what it stashed
  const size_t mapped = hz::arena::usage().mapped_bytes;
  stage = 2;
  owner.join();
  const size_t grown = hz::arena::usage().mapped_bytes - mapped;
  EXPECT_LT(grown, size_t{4} << 20) << "the owner grew by " << (grown >> 20) << " MiB instead of reusing what came home";
  for (void* p : again) hz_free(p);
}

// A producer hands batches of kN blocks to a consumer that frees them in
// order, kRounds times, one batch at a time (so that the outcome does not
// depend on how the two threads interleave); returns how many consecutive
// blocks of the last batch are not neighbours in memory.
size_t scattered_after_rounds(size_t size) {
  constexpr size_t kN = 4096;
  constexpr int kRounds = 12;
  std::vector<void*> batch(kN);
  std::atomic<int> made{0}, freed{0};
  size_t scattered = 0;
  std::thread consumer([&] {
    for (int r = 0; r < kRounds; ++r) {
      while (made.load() <= r) std::this_thread::yield();
      for (void* p : batch) hz_free(p);
      freed = r + 1;
    }
  });
  std::thread producer([&] {
    for (int r = 0; r < kRounds; ++r) {
      while (freed.load() < r) std::this_thread::yield();
      for (auto& p : batch) {
        p = hz_malloc(size);
        memset(p, r, size);
      }
      if (r == kRounds - 1)
        for (size_t i = 1; i < kN; ++i) {
          intptr_t d = static_cast<char*>(batch[i]) - static_cast<char*>(batch[i - 1]);
          scattered += d != static_cast<intptr_t>(size) && d != -static_cast<intptr_t>(size);
        }
      made = r + 1;
    }
    while (freed.load() < kRounds) std::this_thread::yield();
  });
  producer.join();
  consumer.join();
  return scattered;
}

TEST(HandOff, AConsumersRunOfFreesComesBackInOrder) {
  if (hz::kHardened) GTEST_SKIP() << "the hardened build shuffles runs";
  if (hz::kRemoteLite) GTEST_SKIP() << "lane r90: remote frees go to their run's list";
  for (size_t size : {16, 48, 64, 256, 1024}) {
    size_t scattered = scattered_after_rounds(size);
    printf("%zu B: %zu of 4095 not neighbours\n", size, scattered);
    EXPECT_LE(scattered, 4096u / 40) << size << " B: blocks that came home are scattered";
  }
}

// Kept blocks that a full bin flushes into the freeing thread's own shard go
// home when that shard is reclaimed (its last thread's exit here), and their
// owner's runs are released: keeping breaks "every block goes straight home",
// not "every free block reaches its run".
TEST(HandOff, KeptBlocksFlushedElsewhereStillReleaseTheirRuns) {
  constexpr size_t kN = size_t{1} << 20, kSize = 64;  // 64 MiB
  std::vector<void*> theirs(kN), mine(kN / 4);
  hz_trim();
  const size_t base = hz::arena::usage().in_use_bytes;
  std::atomic<int> stage{0};
  // The owner stays alive while the freer runs (else the freer would take
  // over its shard), then exits: its shard's last thread reclaims it.
  std::thread owner([&] {
    for (auto& p : theirs) p = hz_malloc(kSize);
    stage = 1;
    while (stage.load() < 2) std::this_thread::yield();
  });
  while (stage.load() < 1) std::this_thread::yield();
  std::thread freer([&] {
    for (auto& p : mine) p = hz_malloc(kSize);  // its own blocks
    // Foreign frees fill the bin's room, local ones overflow it: flushes then
    // carry foreign blocks into this thread's own central list.
    for (size_t i = 0; i < kN; ++i) {
      hz_free(theirs[i]);
      if (i % 4 == 0) hz_free(mine[i / 4]);
    }
  });
  freer.join();  // its shard's reclaim sends the foreign blocks home
  stage = 2;
  owner.join();
  hz_trim();
  const size_t after = hz::arena::usage().in_use_bytes;
  EXPECT_LT(after, base + (size_t{4} << 20)) << "runs stranded: " << ((after - base) >> 20) << " MiB still in use";
}

// Threads that each malloc and free, half of their frees of blocks another
// thread sent them: kept blocks travel from bin to bin and through other
// shards' lists. Every block must stay intact while live and never be handed
// out twice.
TEST(HandOff, KeptBlocksCirculateIntact) {
  constexpr int kThreads = 6, kOps = 60000;
  struct Box {
    std::mutex mu;
    std::vector<uint64_t*> items;
  };
  std::vector<Box> boxes(kThreads);
  std::atomic<int> bad{0}, done{0};
  auto check = [&](uint64_t* p) {
    size_t words = p[0];
    for (size_t i = 1; i < words; ++i)
      if (p[i] != reinterpret_cast<uintptr_t>(p) + i) return false;
    return true;
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 31 + 7);
      std::vector<uint64_t*> mine;
      auto drain = [&] {
        std::vector<uint64_t*> in;
        {
          std::lock_guard<std::mutex> g(boxes[t].mu);
          in.swap(boxes[t].items);
        }
        for (uint64_t* p : in) {
          if (!check(p)) bad.fetch_add(1);
          hz_free(p);
        }
      };
      for (int i = 0; i < kOps; ++i) {
        if (i % 16 == 0) drain();
        if (mine.size() < 200 || rng() % 2) {
          size_t words = 2 + rng() % 40;
          auto* p = static_cast<uint64_t*>(hz_malloc(words * 8));
          p[0] = words;
          for (size_t k = 1; k < words; ++k) p[k] = reinterpret_cast<uintptr_t>(p) + k;
          mine.push_back(p);
          continue;
        }
        size_t k = rng() % mine.size();
        uint64_t* p = mine[k];
        mine[k] = mine.back();
        mine.pop_back();
        if (!check(p)) bad.fetch_add(1);
        if (rng() % 2) {
          Box& to = boxes[(t + 1 + rng() % (kThreads - 1)) % kThreads];
          std::lock_guard<std::mutex> g(to.mu);
          to.items.push_back(p);
        } else {
          hz_free(p);
        }
      }
      for (uint64_t* p : mine) {
        if (!check(p)) bad.fetch_add(1);
        hz_free(p);
      }
      done.fetch_add(1);
      while (done.load() < kThreads) {
        drain();
        std::this_thread::yield();
      }
      drain();
    });
  for (auto& th : ts) th.join();
  for (auto& b : boxes)
    for (uint64_t* p : b.items) hz_free(p);
  EXPECT_EQ(bad.load(), 0) << "a block was overwritten while live: handed out twice";
}

}  // namespace
