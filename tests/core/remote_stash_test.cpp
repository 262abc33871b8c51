// The remote stash (remote/remote_stash.h) on its own: a thread's groups of
// remote frees by destination (owner, class), published to the owners'
// stashes. Blocks come from hz_malloc; the test drains the owners' lists
// itself and checks that every block reached its own destination once, in
// batches whose headers match, and that the stash's accounting ends at zero.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "arena/arena.h"
#include "config.h"
#include "hakozuna.h"
#include "remote/remote_stash.h"
#include "cache/thread_cache.h"
#include "shard/shard.h"

namespace {

using hz::FreeBlock;

// Appends every block on owner's stash of cls to got, batch by batch
// (headers checked). got has room reserved: no allocation may run while the
// owners' stashes hold the test's blocks (a refill or a borrow would take
// them).
void drain_stash(unsigned owner, unsigned cls, std::vector<FreeBlock*>& got) {
  FreeBlock* chain = hz::g_shards[owner].stash[cls].drain();
  while (chain) {
    FreeBlock* last = hz::batch_last(chain, cls);
    uint32_t n = hz::batch_count(chain, cls);
    uint32_t seen = 0;
    for (FreeBlock* b = chain;; b = b->next()) {
      got.push_back(b);
      if (++seen > n || b == last) break;
    }
    EXPECT_EQ(seen, n) << "a batch header's count does not match its blocks";
    chain = last->next();
  }
}

// The test sends blocks to other shards' stashes, never to its own (its own
// refills would take them).
unsigned my_shard() {
  hz_free(hz_malloc(16));  // set up
  return hz::t_cache->shard;
}

// Two destinations on one slot of the stash (owners 5 apart, classes 9
// apart: 5 * 53 = 265 = 9 mod 256), freed alternately, so that every add
// finds the slot taken by the other and publishes it: each block must reach
// its own owner's stash, once, and the stash must end empty.
TEST(RemoteStash, TwoDestinationsOnOneSlotEachGetTheirOwnBlocks) {
  static_assert(hz::kRemoteSlots == 256, "the colliding pair below assumes 256 slots");
  constexpr unsigned kOwnerA = 6, kOwnerB = 1, kClsA = 10, kClsB = 19;
  static_assert(kOwnerA < hz::kShards && kClsB < hz::kNumClasses);
  ASSERT_EQ(hz::detail::slot_of(kClsA, kOwnerA), hz::detail::slot_of(kClsB, kOwnerB));
  const unsigned me = my_shard();
  if (me == kOwnerA || me == kOwnerB) GTEST_SKIP() << "this thread owns one of the destinations";
  constexpr int kEach = 300;
  std::vector<void*> a, b;
  std::vector<FreeBlock*> got_a, got_b;
  got_a.reserve(kEach + 1);
  got_b.reserve(kEach + 1);
  for (int i = 0; i < kEach; ++i) {
    a.push_back(hz_malloc(hz::kClasses[kClsA].size));
    b.push_back(hz_malloc(hz::kClasses[kClsB].size));
  }
  static hz::RemoteStash rs;  // zero: empty (6 KiB: not on the stack)
  hz::remote_stash_init(rs);
  for (int i = 0; i < kEach; ++i) {
    hz::remote_stash_add(rs, static_cast<FreeBlock*>(a[i]), kClsA, kOwnerA);
    hz::remote_stash_add(rs, static_cast<FreeBlock*>(b[i]), kClsB, kOwnerB);
    ASSERT_EQ(rs.pending, 1u) << "one slot holds one group";
    ASSERT_EQ(rs.pending_bytes, hz::kClasses[kClsB].size) << "the group of one block just taken over";
  }
  hz::remote_stash_flush(rs);
  EXPECT_EQ(rs.pending, 0u);
  EXPECT_EQ(rs.pending_bytes, 0u);
  drain_stash(kOwnerA, kClsA, got_a);
  drain_stash(kOwnerB, kClsB, got_b);
  std::set<void*> want_a(a.begin(), a.end()), want_b(b.begin(), b.end());
  EXPECT_EQ(got_a.size(), a.size());
  EXPECT_EQ(got_b.size(), b.size());
  EXPECT_EQ(std::set<void*>(got_a.begin(), got_a.end()), want_a);
  EXPECT_EQ(std::set<void*>(got_b.begin(), got_b.end()), want_b);
  for (void* p : a) hz_free(p);
  for (void* p : b) hz_free(p);
}

// Many destinations, some sharing slots: every block reaches its owner once,
// groups never exceed their limit, and what the stash holds never exceeds
// its byte bound.
TEST(RemoteStash, ManyDestinationsStayWithinTheBoundsAndArriveOnce) {
  static hz::RemoteStash rs;
  hz::remote_stash_init(rs);
  std::map<std::pair<unsigned, unsigned>, std::vector<void*>> sent;  // (owner, cls) -> blocks
  struct Add {
    void* p;
    unsigned owner, cls;
  };
  std::vector<Add> adds;
  uint64_t x = 88172645463325252ull;
  const unsigned owners = hz::kShards < 12 ? hz::kShards : 12;
  const unsigned me = my_shard();
  // Allocated first: no allocator call runs while the owners' stashes hold
  // these blocks (a decay pass there would take them).
  for (int i = 0; i < 8000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    unsigned owner = static_cast<unsigned>(x % owners);
    if (owner == me) continue;
    unsigned cls = 2 + static_cast<unsigned>((x >> 20) % 40);  // 32 B to 20 KiB
    void* p = hz_malloc(hz::kClasses[cls].size);
    ASSERT_NE(p, nullptr);
    sent[{owner, cls}].push_back(p);
    adds.push_back({p, owner, cls});
  }
  std::vector<std::vector<FreeBlock*>> got(sent.size());
  {
    size_t i = 0;
    for (auto& [dest, blocks] : sent) got[i++].reserve(blocks.size() + 1);
  }
  for (const Add& a : adds) {
    hz::remote_stash_add(rs, static_cast<FreeBlock*>(a.p), a.cls, a.owner);
    ASSERT_LE(rs.pending_bytes, hz::kRemoteStashMaxBytes);
    const hz::RemoteGroup& g = rs.groups[hz::detail::slot_of(a.cls, a.owner)];
    ASSERT_LT(g.count, hz::detail::kGroupLimit[a.cls]) << "a full group is published at once";
  }
  hz::remote_stash_flush(rs);
  EXPECT_EQ(rs.pending, 0u);
  EXPECT_EQ(rs.pending_bytes, 0u);
  size_t i = 0;
  for (auto& [dest, blocks] : sent) drain_stash(dest.first, dest.second, got[i++]);
  i = 0;
  for (auto& [dest, blocks] : sent) {
    std::vector<void*> g(got[i].begin(), got[i].end()), w = blocks;
    ++i;
    std::sort(g.begin(), g.end());
    std::sort(w.begin(), w.end());
    EXPECT_EQ(g, w) << "owner " << dest.first << " class " << dest.second;
  }
  for (const Add& a : adds) hz_free(a.p);
}

}  // namespace
