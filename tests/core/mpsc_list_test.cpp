// MpscList: many producers push lists, one consumer drains by exchange; every
// node arrives exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "remote/mpsc_list.h"

using namespace hz;

TEST(MpscList, EveryNodeArrivesExactlyOnce) {
  constexpr int kProducers = 8, kPerProducer = 20000, kBatch = 7;
  std::vector<FreeBlock> nodes(kProducers * kPerProducer);
  std::vector<int> seen(nodes.size(), 0);
  MpscList list;
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      FreeBlock* base = &nodes[static_cast<size_t>(t) * kPerProducer];
      for (int i = 0; i < kPerProducer; i += kBatch) {
        int n = std::min(kBatch, kPerProducer - i);
        for (int k = 0; k + 1 < n; ++k) base[i + k].next = &base[i + k + 1];
        list.push(&base[i], &base[i + n - 1]);
      }
      done.fetch_add(1);
    });
  }
  size_t got = 0;
  auto consume = [&] {
    for (FreeBlock* b = list.drain(); b; b = b->next) {
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
