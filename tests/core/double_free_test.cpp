// Free key (issue 11): a double free is reported with one line and aborts,
// wherever the first free put the block (bin, central, remote stash, owner
// stash, spill, a released run), for small, medium and page-span blocks, and
// through realloc; ordinary use never trips it.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "config.h"
#include "hakozuna.h"
#include "pagemap/pagemap.h"
#include "size_class/size_class.h"

namespace {

const char* const kFree = "^hakozuna: free\\(\\): double free 0x[0-9a-f]+\n?$";
const char* const kRealloc = "^hakozuna: realloc\\(\\): double free 0x[0-9a-f]+\n?$";

// Each scenario runs whole inside the death statement: gtest allocates
// between statements, and a block it got back from the first free would make
// the second free a valid one.
class DoubleFree : public ::testing::TestWithParam<size_t> {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  void SetUp() override {
    if (!hz::kFreeKey && GetParam() <= (256 << 10)) GTEST_SKIP() << "built without the free key";
  }
};

// Small, medium (classes above the 1 KiB table) and a page span.
INSTANTIATE_TEST_SUITE_P(Sizes, DoubleFree, ::testing::Values(16, 48, 1000, 20000, 200000, 1 << 20),
                         [](const auto& info) { return "B" + std::to_string(info.param); });

void immediately(size_t size) {
  void* p = hz_malloc(size);
  hz_free(p);
  hz_free(p);
}

void after_another_free(size_t size) {  // a, b, a
  void* a = hz_malloc(size);
  void* b = hz_malloc(size);
  hz_free(a);
  hz_free(b);
  hz_free(a);
}

void through_realloc(size_t size) {
  void* p = hz_malloc(size);
  hz_free(p);
  hz_realloc(p, size * 2);
}

void after_central(size_t size) {
  // Enough frees after p to flush p's bin to central several times over.
  void* p = hz_malloc(size);
  std::vector<void*> v(size <= 1000 ? 5000 : 200);
  for (auto& q : v) q = hz_malloc(size);
  hz_free(p);
  for (void* q : v) hz_free(q);
  hz_free(p);
}

void after_remote(size_t size, bool drained) {
  // Another thread frees p (its remote stash, published to our owner stash
  // at its exit); we free p again, before or after a malloc drained it.
  void* p = hz_malloc(size);
  void* q = hz_malloc(size);
  std::thread([p, q] {
    hz_free(p);
    hz_free(q);
  }).join();
  if (drained && hz_malloc(size) == p) p = q;  // that one is legitimately ours again
  hz_free(p);
}

void after_drain_spread(size_t size, size_t pick) {
  // Another thread frees many of our blocks; one malloc drains them all:
  // some to the bin, some to the spill, the rest stays in the shard.
  std::vector<void*> v(size <= 1000 ? 3000 : 100);
  for (auto& q : v) q = hz_malloc(size);
  std::thread([&v] {
    for (void* q : v) hz_free(q);
  }).join();
  void* got = hz_malloc(size);
  // A page span freed above may already serve a later allocation (got, or a
  // run for the purger's thread, started by these frees): freeing it again
  // is then a valid free. Take the next span still free.
  size_t i = pick * (v.size() - 1) / 6;
  while (size > hz::kMaxSmallSize && i + 1 < v.size() &&
         hz::tag_class(hz::tag_at(hz::arena_offset(v[i]))) != hz::kFreedClass)
    ++i;
  void* p = v[i];
  if (p == got) p = v[v.size() / 2 + 1];
  hz_free(p);
}

void after_trim(size_t size) {
  // From another thread, so that p is not in the trimming thread's bin: trim
  // may release p's run.
  void* p = hz_malloc(size);
  std::thread([p] {
    hz_free(p);
  }).join();
  hz_trim();
  hz_free(p);
}

TEST_P(DoubleFree, Immediately) { EXPECT_DEATH(immediately(GetParam()), kFree); }
TEST_P(DoubleFree, AfterAnotherFree) { EXPECT_DEATH(after_another_free(GetParam()), kFree); }
TEST_P(DoubleFree, ThroughRealloc) { EXPECT_DEATH(through_realloc(GetParam()), kRealloc); }
TEST_P(DoubleFree, AfterTheBlockWentToCentral) { EXPECT_DEATH(after_central(GetParam()), kFree); }
TEST_P(DoubleFree, AfterARemoteFree) {
  EXPECT_DEATH(after_remote(GetParam(), false), kFree);
  EXPECT_DEATH(after_remote(GetParam(), true), kFree);
}
TEST_P(DoubleFree, OfBlocksADrainSpreadOverBinSpillAndShard) {
  for (size_t pick = 0; pick <= 6; ++pick) EXPECT_DEATH(after_drain_spread(GetParam(), pick), kFree) << pick;
}
TEST_P(DoubleFree, AfterTrim) { EXPECT_DEATH(after_trim(GetParam()), kFree); }

// A write after free that changes a free block's link (or its key) is caught
// when the list is popped, before the wild target is handed out.
alignas(16) char g_fake[64];

void wild_link(size_t size) {
  void* p = hz_malloc(size);
  hz_free(p);
  *static_cast<void**>(p) = g_fake;  // the program writes after free
  hz_malloc(size);                   // p itself
  hz_malloc(size);                   // would be g_fake
  hz_trim();                         // hardened: p waited in the quarantine until here
}

// A link forged to point at a free block of another class: that block's key
// is valid for its own class only.
void link_to_other_class(size_t size, size_t other) {
  void* q = hz_malloc(other);
  void* p = hz_malloc(size);
  hz_free(q);
  hz_free(p);
  *static_cast<void**>(p) = q;  // the program writes after free
  hz_malloc(size);              // p itself
  hz_malloc(size);              // would be q, a block of the other class
  hz_trim();
}

void clobbered(size_t size) {
  void* p = hz_malloc(size);
  hz_free(p);
  memset(p, 0x41, size);
  hz_malloc(size);
  hz_trim();
}

const char* const kCorrupt =
    "^hakozuna: (heap corruption detected \\(a free list leads to a block that is not free|"
    "free\\(\\): write after free detected in block)";

TEST(FreeKey, AWriteAfterFreeIsCaughtWhenTheListIsPopped) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (size_t size : {16, 48, 1000, 20000}) {
    EXPECT_DEATH(wild_link(size), kCorrupt) << size;
    EXPECT_DEATH(clobbered(size), kCorrupt) << size;
  }
}

TEST(FreeKey, ALinkToAFreeBlockOfAnotherClassIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (auto [size, other] : {std::pair<size_t, size_t>{1000, 48}, {48, 32}, {16, 32}, {20000, 16}}) {
    EXPECT_DEATH(link_to_other_class(size, other), kCorrupt) << size << " " << other;
  }
}

// Ordinary use never trips it, even over pages that were a small run: a run
// emptied and given back to the page heap (here by grow reclaim: 40 blocks
// of 256 KiB freed, then 2.5 MiB of 128 KiB blocks) goes back dirty, and a
// large block placed there held the free keys of its freed blocks (one at
// its offset 8). realloc shrinking that block into the 256 KiB class copied
// the key into a live block, and its free was taken for a double free.
TEST(FreeKey, PagesOfAReleasedRunCarryNoKey) {
  void* a[40];
  void* c[20];
  for (auto& p : a) p = hz_malloc(262144);
  for (auto& p : a) hz_free(p);
  for (auto& p : c) p = hz_malloc(131072);
  uint64_t* big[4];
  size_t keys = 0;
  for (auto& b : big) {
    b = static_cast<uint64_t*>(hz_malloc(2 << 20));
    ASSERT_NE(b, nullptr);
    for (size_t w = 0; w < (2 << 20) / 8; ++w)
      for (unsigned cls = 1; cls < hz::kNumClasses; ++cls) keys += b[w] == hz::kTables.key[cls];
  }
  EXPECT_EQ(keys, 0u) << "fresh large blocks hold free keys";
  big[0][0] = 42;  // bytes 8..15 never written: realloc copies what was there
  void* q = hz_realloc(big[0], 250000);
  ASSERT_NE(q, nullptr);
  hz_free(q);  // aborted with "double free" before
  for (int i = 1; i < 4; ++i) hz_free(big[i]);
  for (auto& p : c) hz_free(p);
}

// free_sized: a size larger than the block is caught; a smaller one that
// realloc left in place is fine.
TEST(SizedFree, ASizeBeyondTheBlockIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* re = "^hakozuna: free_sized\\(\\): size does not match the block 0x[0-9a-f]+\n?$";
  EXPECT_DEATH(hz_free_sized(hz_malloc(100), 200), re);
  EXPECT_DEATH(hz_free_sized(hz_malloc(300000), 400000), re);
  void* p = hz_realloc(hz_malloc(100), 60);
  hz_free_sized(p, 60);
  void* q = hz_malloc(1 << 20);
  hz_free_sized(q, (1 << 20) - 5000);
  hz_free_sized(hz_malloc(0), 0);
}

TEST(FreeKey, OrdinaryUseNeverTripsIt) {
  // Blocks freed untouched, freed after being filled with every byte value,
  // reused at once, handed between threads: no false report.
  std::vector<void*> v;
  for (int round = 0; round < 20; ++round) {
    for (size_t size : {16, 32, 48, 100, 1000, 5000, 40000}) {
      for (int i = 0; i < 200; ++i) {
        void* p = hz_malloc(size);
        if (i % 3 == 1) memset(p, i & 0xFF, size);
        if (i % 3 == 2) memset(p, 0xFF, size);
        v.push_back(p);
      }
    }
    std::thread([&v] {
      for (size_t i = 0; i < v.size(); i += 2) hz_free(v[i]);
    }).join();
    for (size_t i = 1; i < v.size(); i += 2) hz_free(v[i]);
    v.clear();
  }
  // A block's second word copied from a live neighbour's is not the key.
  auto* a = static_cast<uint64_t*>(hz_malloc(64));
  auto* b = static_cast<uint64_t*>(hz_malloc(64));
  memcpy(a, b, 64);
  hz_free(a);
  hz_free(b);
  SUCCEED();
}

}  // namespace
