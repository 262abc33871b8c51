// MpscList: many producers push lists, one consumer drains by exchange; every
// node arrives exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "hakozuna.h"
#include "remote/mpsc_list.h"

using namespace hz;

namespace {
// Nodes live in the arena: the hardened build refuses a link that leads
// outside it.
template <class T>
struct ArenaArray {
  explicit ArenaArray(size_t count) : p(static_cast<T*>(hz_calloc(count, sizeof(T)))), n(count) {}
  ~ArenaArray() { hz_free(p); }
  ArenaArray(const ArenaArray&) = delete;
  T& operator[](size_t i) { return p[i]; }
  T* data() { return p; }
  T& back() { return p[n - 1]; }
  size_t size() const { return n; }
  T* p;
  size_t n;
};
}  // namespace

TEST(MpscList, EveryNodeArrivesExactlyOnce) {
  constexpr int kProducers = 8, kPerProducer = 20000, kBatch = 7;
  ArenaArray<FreeBlock> nodes(kProducers * kPerProducer);
  std::vector<int> seen(nodes.size(), 0);
  MpscList list;
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      FreeBlock* base = &nodes[static_cast<size_t>(t) * kPerProducer];
      for (int i = 0; i < kPerProducer; i += kBatch) {
        int n = std::min(kBatch, kPerProducer - i);
        for (int k = 0; k + 1 < n; ++k) base[i + k].set_next(&base[i + k + 1]);
        list.push(&base[i], &base[i + n - 1]);
      }
      done.fetch_add(1);
    });
  }
  size_t got = 0;
  auto consume = [&] {
    for (FreeBlock* b = list.drain(); b; b = b->next()) {
      size_t idx = static_cast<size_t>(b - nodes.data());
      ASSERT_LT(idx, nodes.size());
      ASSERT_EQ(seen[idx]++, 0) << "node " << idx << " arrived twice";
      ++got;
    }
  };
  while (done.load() < kProducers) consume();
  for (auto& p : producers) p.join();
  consume();
  EXPECT_EQ(got, nodes.size());
  EXPECT_FALSE(list.pending());
}

TEST(MpscList, PushReportsEmptyToNonEmptyTransition) {
  MpscList list;
  FreeBlock a{}, b{};
  EXPECT_TRUE(list.push(&a, &a));
  EXPECT_FALSE(list.push(&b, &b));
  EXPECT_EQ(list.drain(), &b);
  EXPECT_TRUE(list.push(&a, &a));
  list.drain();
}

// A block of the 32-byte class: room for a batch header beside the key.
struct Block32 {
  FreeBlock fb;
  uint64_t pad[2];
};
constexpr unsigned kCls32 = 2;
static_assert(kClasses[kCls32].size == sizeof(Block32));

TEST(Batch, HeaderCarriesLastBlockAndLength) {
  ArenaArray<Block32> nodes(300);
  for (size_t i = 0; i + 1 < nodes.size(); ++i) nodes[i].fb.set_next(&nodes[i + 1].fb);
  nodes.back().fb.set_next(nullptr);
  set_batch(&nodes[0].fb, &nodes.back().fb, 300, kCls32);
  EXPECT_EQ(batch_last(&nodes[0].fb, kCls32), &nodes.back().fb);
  EXPECT_EQ(batch_count(&nodes[0].fb, kCls32), 300u);
  set_batch(&nodes[5].fb, &nodes[5].fb, 1, kCls32);
  EXPECT_EQ(batch_last(&nodes[5].fb, kCls32), &nodes[5].fb);
  EXPECT_EQ(batch_count(&nodes[5].fb, kCls32), 1u);
}

TEST(Batch, TheHeaderLeavesTheFreeKeyAlone) {
  std::vector<Block32> nodes(4);
  for (auto& n : nodes) n.fb.key = 0x1234;
  set_batch(&nodes[0].fb, &nodes[3].fb, 4, kCls32);
  for (auto& n : nodes) EXPECT_EQ(n.fb.key, kFreeKey ? 0x1234u : n.fb.key);
  // The 16-byte class has no room for a header: each block is a batch of one.
  FreeBlock small[3] = {};
  small[0].key = small[1].key = 0x99;
  set_batch(&small[0], &small[1], 2, 1);
  if (kFreeKey) {
    EXPECT_EQ(small[0].key, 0x99u);
    EXPECT_EQ(batch_last(&small[0], 1), &small[0]);
    EXPECT_EQ(batch_count(&small[0], 1), 1u);
  }
}

TEST(Batch, ChainsOfBatchesSurviveConcurrentPublishing) {
  // Producers publish batches of varying length; the consumer walks the
  // drained chain batch by batch through the headers alone.
  constexpr int kProducers = 4, kBatches = 3000;
  std::vector<std::unique_ptr<ArenaArray<Block32>>> pools;
  for (int t = 0; t < kProducers; ++t) pools.push_back(std::make_unique<ArenaArray<Block32>>(kBatches * 8));
  MpscList list;
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kProducers; ++t)
    ts.emplace_back([&, t] {
      auto& pool = *pools[static_cast<size_t>(t)];
      for (int b = 0; b < kBatches; ++b) {
        uint32_t n = 1 + static_cast<uint32_t>(b % 8);
        Block32* first = &pool[static_cast<size_t>(b) * 8];
        for (uint32_t k = 0; k + 1 < n; ++k) first[k].fb.set_next(&first[k + 1].fb);
        set_batch(&first->fb, &first[n - 1].fb, n, kCls32);
        list.push(&first->fb, &first[n - 1].fb);
      }
      done.fetch_add(1);
    });
  size_t blocks = 0, batches = 0;
  auto consume = [&] {
    for (FreeBlock* b = list.drain(); b;) {
      FreeBlock* last = batch_last(b, kCls32);
      uint32_t n = batch_count(b, kCls32);
      FreeBlock* walk = b;
      for (uint32_t k = 1; k < n; ++k) walk = walk->next();
      ASSERT_EQ(walk, last) << "header disagrees with the list";
      blocks += n;
      ++batches;
      b = last->next();
    }
  };
  while (done.load() < kProducers) consume();
  for (auto& th : ts) th.join();
  consume();
  EXPECT_EQ(batches, static_cast<size_t>(kProducers) * kBatches);
  size_t expect = 0;
  for (int b = 0; b < kBatches; ++b) expect += 1 + static_cast<size_t>(b % 8);
  EXPECT_EQ(blocks, expect * kProducers);
}
