// Hardened build (-DHAKOZUNA_HARDENED=ON, issue 11): canaries catch overflows
// and underflows at free, a write after free is caught when the block leaves
// the quarantine or is handed out again, blocks come out zeroed, reuse is
// delayed, page spans and runs of 8 pages or more end in a guard page, free
// list links are encoded.
// Skipped in other builds.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <set>
#include <vector>

#include "arena/arena.h"
#include "config.h"
#include "hakozuna.h"

namespace {

class Hardened : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  void SetUp() override {
    if (!hz::kHardened) GTEST_SKIP() << "not the hardened build";
  }
};

const char* const kOverflow = "^hakozuna: free\\(\\): heap overflow detected in block 0x[0-9a-f]+\n?$";

void overflow_by(size_t size, size_t by) {
  auto* p = static_cast<char*>(hz_malloc(size));
  p[hz_usable_size(p) + by - 1] ^= 1;
  hz_free(p);
}

void underflow(size_t size) {
  // Two live neighbours (runs are shuffled: look for them): the byte before
  // the later one is the earlier one's canary.
  std::set<char*> live;
  for (int i = 0; i < 256; ++i) live.insert(static_cast<char*>(hz_malloc(size)));
  for (char* p : live) {
    char* next = p + hz_usable_size(p) + 8;
    if (live.count(next)) {
      next[-1] ^= 1;
      hz_free(p);
    }
  }
}

TEST_F(Hardened, AnOverflowIsCaughtAtFree) {
  for (size_t size : {1, 24, 48, 100, 1000, 16384, 200000}) EXPECT_DEATH(overflow_by(size, 1), kOverflow) << size;
  EXPECT_DEATH(underflow(48), kOverflow);
}

TEST_F(Hardened, APageSpanEndsInAGuardPage) {
  // Past the canary, into the page after the span.
  EXPECT_EXIT(overflow_by(1 << 20, 8 + 64), ::testing::KilledBySignal(SIGSEGV), "");
}

void overflow_off_a_run(size_t size) {
  // Runs of this class hold whole blocks; the last block of a run is the one
  // whose end no other block starts at. Past its canary is the guard page.
  std::set<char*> live;
  for (int i = 0; i < 64; ++i) live.insert(static_cast<char*>(hz_malloc(size)));
  for (char* p : live) {
    char* end = p + hz_usable_size(p) + 8;
    if (!live.count(end)) {
      end[64] ^= 1;
      return;
    }
  }
}

TEST_F(Hardened, ARunOfEightPagesOrMoreEndsInAGuardPage) {
  EXPECT_EXIT(overflow_off_a_run(16384 - 8), ::testing::KilledBySignal(SIGSEGV), "");
}

// A free block's link is stored xor'd with a secret and its own address: a
// pointer written over it decodes to garbage, which is reported.
TEST_F(Hardened, FreeListLinksAreEncoded) {
  auto* a = static_cast<hz::FreeBlock*>(hz_malloc(64));
  auto* b = static_cast<hz::FreeBlock*>(hz_malloc(64));
  a->set_next(b);
  EXPECT_NE(a->link, reinterpret_cast<uintptr_t>(b));
  EXPECT_EQ(a->next(), b);
  a->set_next(nullptr);
  EXPECT_EQ(a->next(), nullptr);
  static char outside[64];
  EXPECT_DEATH(
      {
        a->link = reinterpret_cast<uintptr_t>(outside);  // a write after free aiming the list
        (void)a->next();
      },
      "heap corruption detected \\(a free list link was overwritten\\)");
  a->set_next(nullptr);
  hz_free(a);
  hz_free(b);
}

TEST_F(Hardened, AWriteAfterFreeIsCaught) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(hz_malloc(100));
        hz_free(p);
        p[60] = 1;  // past the words the allocator keeps in a free block
        hz_trim();  // the quarantine is checked as it empties
      },
      "write after free detected in block");
}

TEST_F(Hardened, BlocksComeOutZeroedAndReuseIsDelayed) {
  std::vector<void*> v;
  v.reserve(200);  // no free (a quarantine eviction) while the loop runs
  auto* p = static_cast<unsigned char*>(hz_malloc(200));
  memset(p, 0xAB, 200);
  hz_free(p);
  for (int i = 0; i < 200; ++i) {
    auto* q = static_cast<unsigned char*>(hz_malloc(200));
    EXPECT_NE(q, p) << "a freed block came back at once";
    for (size_t k = 0; k < hz_usable_size(q); ++k) ASSERT_EQ(q[k], 0) << "byte " << k << " of a fresh block";
    v.push_back(q);
  }
  for (void* q : v) hz_free(q);
}

// An alignment past a page is served by a page span, however small: its
// pages hold what the page heap left there (here runs of 70 000 B blocks,
// written all over and released by a grow reclaim), which is no write after
// free. The check took it for a block of a size class: "aligned_alloc():
// write after free detected" killed a correct program (python's ctypes,
// a break-it helper's trace). It comes out zeroed all the same.
TEST_F(Hardened, AnAlignedSpanOverOldDataIsNoWriteAfterFree) {
  std::vector<void*> carve(1200);
  for (int round = 0; round < 10; ++round) {
    void* b[128];
    for (auto& q : b) memset(q = hz_malloc(70000), 0xAA, 70000);
    for (void* q : b) hz_free(q);
    for (auto& q : carve) q = hz_malloc(5000);  // 6 MB carved: a grow reclaim releases the runs above
    void* a[32];
    for (auto& q : a) {
      q = hz_aligned_alloc(65536, 1000);
      ASSERT_NE(q, nullptr);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(q) % 65536, 0u);
      const auto* c = static_cast<const unsigned char*>(q);
      for (size_t k = 0; k < 1000; ++k) ASSERT_EQ(c[k], 0) << "byte " << k << " of an aligned block, round " << round;
    }
    for (void* q : a) hz_free(q);
    for (void* q : carve) hz_free(q);
  }
}

TEST_F(Hardened, CarvedBlocksAreShuffled) {
  // Consecutive allocations of a new run do not come out in address order.
  std::vector<char*> v;
  for (int i = 0; i < 64; ++i) v.push_back(static_cast<char*>(hz_malloc(3000)));
  int ascending = 0;
  for (size_t i = 1; i < v.size(); ++i) ascending += v[i] > v[i - 1];
  EXPECT_LT(ascending, 56);
  EXPECT_GT(ascending, 8);
  for (char* q : v) hz_free(q);
}

}  // namespace
