// End-to-end remote frees through hz_*: blocks cross threads, contents survive,
// no block is ever handed out twice while live, threads come and go, and more
// threads than shards share owners (collisions).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "config.h"
#include "hakozuna.h"

namespace {

struct Block {
  unsigned char* p;
  size_t size;
  unsigned char tag;
};

void fill(const Block& b) { memset(b.p, b.tag, b.size); }
bool intact(const Block& b) {
  for (size_t i = 0; i < b.size; ++i)
    if (b.p[i] != b.tag) return false;
  return true;
}

// A tiny locked queue: the test's own plumbing, not what is under test.
struct Mailbox {
  std::mutex mu;
  std::vector<Block> items;
  void put(const Block& b) {
    std::lock_guard<std::mutex> g(mu);
    items.push_back(b);
  }
  std::vector<Block> take() {
    std::lock_guard<std::mutex> g(mu);
    return std::exchange(items, {});
  }
};

// Each thread allocates, keeps some, and mails the rest to the next thread,
// which checks and frees them. Returns the number of blocks freed remotely.
size_t ring_exchange(int threads, int rounds, size_t max_size) {
  std::vector<Mailbox> boxes(static_cast<size_t>(threads));
  std::atomic<size_t> remote_frees{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      std::vector<Block> mine;
      auto drain_inbox = [&] {
        for (Block& b : boxes[static_cast<size_t>(t)].take()) {
          ASSERT_TRUE(intact(b)) << "remote block corrupted";
          hz_free(b.p);
          remote_frees.fetch_add(1, std::memory_order_relaxed);
        }
      };
      for (int r = 0; r < rounds; ++r) {
        size_t size = 1 + rng() % max_size;
        Block b{static_cast<unsigned char*>(hz_malloc(size)), size, static_cast<unsigned char>(rng())};
        ASSERT_NE(b.p, nullptr);
        fill(b);
        if (rng() % 2) {
          boxes[static_cast<size_t>((t + 1) % threads)].put(b);
        } else {
          mine.push_back(b);
        }
        if (mine.size() > 64) {
          size_t i = rng() % mine.size();
          ASSERT_TRUE(intact(mine[i]));
          hz_free(mine[i].p);
          mine[i] = mine.back();
          mine.pop_back();
        }
        if (r % 32 == 0) drain_inbox();
      }
      for (Block& b : mine) {
        ASSERT_TRUE(intact(b));
        hz_free(b.p);
      }
      finished.fetch_add(1);
      while (finished.load() < threads) {
        drain_inbox();
        std::this_thread::yield();
      }
      drain_inbox();
    });
  }
  for (auto& th : ts) th.join();
  for (auto& box : boxes)
    for (Block& b : box.take()) {
      EXPECT_TRUE(intact(b));
      hz_free(b.p);
      remote_frees.fetch_add(1);
    }
  return remote_frees.load();
}

}  // namespace

TEST(RemoteFree, SmallBlocksCrossThreadsIntact) {
  EXPECT_GT(ring_exchange(4, 20000, 512), 0u);
}

TEST(RemoteFree, MixedSizesCrossThreadsIntact) {
  EXPECT_GT(ring_exchange(4, 5000, 40000), 0u);
}

TEST(RemoteFree, CollisionsWithFourTimesMoreThreadsThanShards) {
  int threads = static_cast<int>(4 * hz::kShards);
  if (threads > 256) threads = 256;  // p32 lane: still far more threads than cores
  EXPECT_GT(ring_exchange(threads, 600, 256), 0u);
}

TEST(RemoteFree, NoBlockIsHandedOutTwiceWhileLive) {
  // Producer threads allocate, a consumer frees; all live pointers are distinct.
  std::mutex mu;
  std::unordered_set<void*> live;
  std::vector<void*> to_free;
  std::atomic<bool> stop{false};
  auto record = [&](void* p) {
    std::lock_guard<std::mutex> g(mu);
    ASSERT_TRUE(live.insert(p).second) << "pointer handed out twice";
    to_free.push_back(p);
  };
  std::vector<std::thread> producers;
  for (int t = 0; t < 3; ++t)
    producers.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) record(hz_malloc(static_cast<size_t>(16 + (i * 7 + t) % 300)));
    });
  std::thread consumer([&] {
    while (!stop.load()) {
      std::vector<void*> batch;
      {
        std::lock_guard<std::mutex> g(mu);
        batch.swap(to_free);
        for (void* p : batch) live.erase(p);
      }
      for (void* p : batch) hz_free(p);
      std::this_thread::yield();
    }
  });
  for (auto& p : producers) p.join();
  stop = true;
  consumer.join();
  for (void* p : to_free) hz_free(p);
}

TEST(ThreadChurn, ShortLivedThreadsHandBlocksOn) {
  void* handoff = nullptr;
  for (int round = 0; round < 300; ++round) {
    std::thread t([&] {
      if (handoff) {
        EXPECT_EQ(static_cast<unsigned char*>(handoff)[0], 0x5A);
        hz_free(handoff);
      }
      std::vector<void*> v;
      for (int i = 0; i < 200; ++i) v.push_back(hz_malloc(static_cast<size_t>(8 + i * 13)));
      for (size_t i = 1; i < v.size(); ++i) hz_free(v[i]);
      handoff = v[0];
      static_cast<unsigned char*>(handoff)[0] = 0x5A;
    });
    t.join();
  }
  hz_free(handoff);
}
