// Borrowing before growing (issue 8, HZ_BORROW_BEFORE_GROW): producers that
// have each carved more than the threshold replace blocks that one thread
// frees for all of them, so their refills borrow the free lists other shards
// hold. Blocks must survive intact, never be handed out twice while live, and
// the heap must not keep growing. Runs through hz_* (also under ASan/TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "config.h"
#include "hakozuna.h"

namespace {

constexpr size_t kSize = 1000;

// A live block holds its own address and a serial number, repeated.
void stamp(void* p, uint64_t serial) {
  uint64_t* w = static_cast<uint64_t*>(p);
  for (size_t i = 0; i + 1 < kSize / 8; i += 2) {
    w[i] = reinterpret_cast<uintptr_t>(p);
    w[i + 1] = serial;
  }
}
bool intact(const void* p) {
  const uint64_t* w = static_cast<const uint64_t*>(p);
  for (size_t i = 0; i + 1 < kSize / 8; i += 2)
    if (w[i] != reinterpret_cast<uintptr_t>(p) || w[i + 1] != w[1]) return false;
  return true;
}

struct Queue {
  std::mutex mu;
  std::vector<void*> items;
  bool done = false;
};

TEST(Borrow, ProducersAndOneFreerKeepBlocksIntactAndTheHeapBounded) {
  const int kProducers = 4;
  // Enough live bytes per producer to pass the borrow threshold.
  const size_t live = (hz::kBorrowAfterBytes + (size_t{4} << 20)) / kSize;
  const uint64_t replacements = 150000;
  Queue q;
  std::atomic<uint64_t> serial{1};
  std::atomic<int> bad{0};
  std::atomic<size_t> freed{0};
  std::thread freer([&] {
    for (;;) {
      std::vector<void*> batch;
      {
        std::lock_guard<std::mutex> g(q.mu);
        batch.swap(q.items);
        if (batch.empty() && q.done) return;
      }
      if (batch.empty()) std::this_thread::yield();
      for (void* p : batch) {
        if (!intact(p)) bad.fetch_add(1);
        hz_free(p);
      }
      freed.fetch_add(batch.size());
    }
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t)
    producers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) + 77);
      std::vector<void*> slots(live);
      for (auto& p : slots) {
        p = hz_malloc(kSize);
        stamp(p, serial.fetch_add(1));
      }
      std::vector<void*> out;
      for (uint64_t i = 0; i < replacements; ++i) {
        size_t k = rng() % live;
        if (!intact(slots[k])) bad.fetch_add(1);
        out.push_back(slots[k]);
        slots[k] = hz_malloc(kSize);
        stamp(slots[k], serial.fetch_add(1));
        if (out.size() == 256) {
          // At most ~64 K blocks in flight, as in the reclaimer benchmark.
          while (static_cast<size_t>(i) > freed.load() / kProducers + 65536 / kProducers) std::this_thread::yield();
          std::lock_guard<std::mutex> g(q.mu);
          q.items.insert(q.items.end(), out.begin(), out.end());
          out.clear();
        }
      }
      for (void* p : slots) {
        if (!intact(p)) bad.fetch_add(1);
        hz_free(p);
      }
      std::lock_guard<std::mutex> g(q.mu);
      q.items.insert(q.items.end(), out.begin(), out.end());
    });
  for (auto& p : producers) p.join();
  {
    std::lock_guard<std::mutex> g(q.mu);
    q.done = true;
  }
  freer.join();
  EXPECT_EQ(bad.load(), 0) << "a block was overwritten while live: handed out twice";
}

}  // namespace
