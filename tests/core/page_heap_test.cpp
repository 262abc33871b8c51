// The page heap (arena layer): spans are disjoint, split and merge back, honour
// alignment, and purged spans read back as zero.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "arena/arena.h"
#include "os/os.h"
#include "hakozuna.h"

using namespace hz;

namespace {
void ensure_arena() { hz_free(hz_malloc(1)); }  // first use reserves the arena
}  // namespace

TEST(PageHeap, SpansAreDisjointAndReusedAfterFree) {
  ensure_arena();
  std::vector<RunMeta*> spans;
  std::set<size_t> pages;
  for (size_t n = 1; n <= 40; ++n) {
    RunMeta* m = arena::alloc_span(n, 1, nullptr);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->npages, n);
    size_t first = arena::page_of(m);
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(pages.insert(first + i).second) << "overlap";
    spans.push_back(m);
  }
  size_t before = arena::usage().in_use_bytes;
  for (RunMeta* m : spans) arena::free_span(m);
  EXPECT_EQ(arena::usage().in_use_bytes, before - pages.size() * kPageSize);
  // Freed neighbours merge: one span as large as all of them fits again.
  RunMeta* big = arena::alloc_span(pages.size(), 1, nullptr);
  ASSERT_NE(big, nullptr);
  arena::free_span(big);
}

TEST(PageHeap, AlignedSpansAreAligned) {
  ensure_arena();
  for (size_t align_pages : {2u, 8u, 64u, 512u, 4096u}) {
    RunMeta* m = arena::alloc_span(3, align_pages, nullptr);
    ASSERT_NE(m, nullptr);
    uintptr_t addr = reinterpret_cast<uintptr_t>(arena::page_addr(arena::page_of(m)));
    EXPECT_EQ(addr % (align_pages * kPageSize), 0u) << align_pages;
    arena::free_span(m);
  }
}

TEST(PageHeap, PurgedSpansReadBackZero) {
  ensure_arena();
  // Clean neighbours: a dirty one left by an earlier test in this process
  // would merge with the purged span and make it dirty.
  arena::purge(os::now_ms(), 0);
  size_t n = kPurgeOnFreeBytes / kPageSize;
  RunMeta* m = arena::alloc_span(n, 1, nullptr);
  ASSERT_NE(m, nullptr);
  char* p = static_cast<char*>(arena::page_addr(arena::page_of(m)));
  memset(p, 0xAB, n * kPageSize);
  arena::free_span(m);  // large enough to be purged at once
  bool zeroed = false;
  RunMeta* again = arena::alloc_span(n, 1, &zeroed);
  ASSERT_NE(again, nullptr);
  char* q = static_cast<char*>(arena::page_addr(arena::page_of(again)));
  if (q == p) {
    EXPECT_TRUE(zeroed);
  }
  if (zeroed)
    for (size_t i = 0; i < n * kPageSize; i += 512) ASSERT_EQ(q[i], 0);
  arena::free_span(again);
}

TEST(PageHeap, ExhaustionFailsCleanly) {
  ensure_arena();
  // Without RLIMIT_AS the whole default arena is reserved at once: it cannot grow.
  if ((g_arena.npages << kPageShift) != kArenaReserveDefault)
    GTEST_SKIP() << "arena reserved in part (RLIMIT_AS, HAKOZUNA_ARENA_SIZE): it could grow";
  EXPECT_TRUE(arena::might_fit(g_arena.npages));
  EXPECT_FALSE(arena::might_fit(g_arena.npages + 1));
  EXPECT_EQ(arena::alloc_span(g_arena.npages + 1, 1, nullptr), nullptr);
}
