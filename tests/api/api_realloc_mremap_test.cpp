// Realloc by moving pages (HZ_REALLOC_MREMAP): a large block that must move
// takes its pages along (mremap) instead of a copy. Its contents survive
// every move, a fork, a shrink; the moved pages are a mapping of their own
// only while the block lives, so the process's mappings do not pile up; and
// a buffer grown to 16 MiB faults in about its own pages, not each copy's.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "config.h"

namespace {

constexpr size_t kMiB = size_t{1} << 20;

size_t mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

long minor_faults() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

// Every page of p[0, n) holds its page number mixed with seed.
void stamp(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 4096) p[i] = static_cast<unsigned char>((i >> 12) * 7 + seed);
  p[n - 1] = static_cast<unsigned char>(seed ^ 0x5a);
}
bool stamped(const unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 4096)
    if (p[i] != static_cast<unsigned char>((i >> 12) * 7 + seed)) return false;
  return p[n - 1] == static_cast<unsigned char>(seed ^ 0x5a);
}

void skip_unless_on() {
  if (!hz::kReallocMremap) GTEST_SKIP() << "HZ_REALLOC_MREMAP off in this build";
}

// Two buffers grown in turn, a block made after each step (so that they move
// rather than grow in place), checked whole at every step.
TEST(ReallocMremap, ContentsSurviveEveryMove) {
  skip_unless_on();
  unsigned char* buf[2] = {nullptr, nullptr};
  size_t len[2] = {0, 0};
  std::vector<void*> between;
  int moves = 0;
  for (size_t size = 512 << 10; size <= 24 * kMiB; size += size / 3) {
    for (int b = 0; b < 2; ++b) {
      auto* q = static_cast<unsigned char*>(realloc(buf[b], size));
      ASSERT_NE(q, nullptr);
      if (len[b]) ASSERT_TRUE(stamped(q, len[b], b)) << size;
      moves += buf[b] && q != buf[b];
      stamp(q, size, b);
      buf[b] = q, len[b] = size;
      between.push_back(malloc(300000));
      ASSERT_NE(between.back(), nullptr);
      memset(between.back(), 0x33, 300000);
    }
  }
  EXPECT_GT(moves, 4);
  for (void* v : between) {
    for (size_t i = 0; i < 300000; i += 4096) ASSERT_EQ(static_cast<unsigned char*>(v)[i], 0x33);
    free(v);
  }
  free(buf[0]);
  free(buf[1]);
}

// The moved pages are a mapping of their own while the block lives; freed
// (or moved again), fresh pages replace them and merge back: a program that
// grows and frees buffers in a loop does not walk toward vm.max_map_count.
TEST(ReallocMremap, MappingsDoNotPileUp) {
  skip_unless_on();
  const size_t before = mappings();
  for (int round = 0; round < 200; ++round) {
    void* p = nullptr;
    std::vector<void*> between;
    for (size_t size = 300 << 10; size <= 4 * kMiB; size *= 2) {
      p = realloc(p, size);
      ASSERT_NE(p, nullptr);
      memset(p, round, size);
      between.push_back(malloc(280000));
    }
    free(p);
    for (void* v : between) free(v);
  }
  const size_t after = mappings();
  printf("mappings: %zu before, %zu after 200 rounds\n", before, after);
  EXPECT_LE(after, before + 8);
}

// More blocks moved and kept alive at once than kMovedSpansMax: past it
// realloc copies, and every block keeps its contents.
TEST(ReallocMremap, ManyLiveMovedBlocksStayBounded) {
  skip_unless_on();
  const size_t before = mappings();
  const size_t n = hz::kMovedSpansMax + 600;
  std::vector<unsigned char*> blocks(n);
  std::vector<void*> between(n);
  for (size_t i = 0; i < n; ++i) {
    blocks[i] = static_cast<unsigned char*>(malloc(300 << 10));
    ASSERT_NE(blocks[i], nullptr);
    stamp(blocks[i], 300 << 10, static_cast<unsigned>(i));
    between[i] = malloc(300 << 10);  // right after it: the block must move
  }
  for (size_t i = 0; i < n; ++i) {
    auto* q = static_cast<unsigned char*>(realloc(blocks[i], 600 << 10));
    ASSERT_NE(q, nullptr);
    blocks[i] = q;
  }
  const size_t during = mappings();
  printf("mappings: %zu before, %zu with %zu moved blocks alive\n", before, during, n);
  EXPECT_LE(during, before + 2 * hz::kMovedSpansMax + 64);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(stamped(blocks[i], 300 << 10, static_cast<unsigned>(i))) << i;
    free(blocks[i]);
    free(between[i]);
  }
  EXPECT_LE(mappings(), before + 8);
}

// A moved block cut by realloc keeps its head; the tail goes back as fresh
// pages; then a fork child reads the moved pages and grows them once more.
TEST(ReallocMremap, ShrinkAndForkAfterAMove) {
  skip_unless_on();
  auto* p = static_cast<unsigned char*>(malloc(2 * kMiB));
  ASSERT_NE(p, nullptr);
  stamp(p, 2 * kMiB, 9);
  void* blocker = malloc(300 << 10);
  auto* q = static_cast<unsigned char*>(realloc(p, 8 * kMiB));
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(stamped(q, 2 * kMiB, 9));
  memset(q + 2 * kMiB, 0x44, 6 * kMiB);
  auto* r = static_cast<unsigned char*>(realloc(q, 1 * kMiB + 4096));
  ASSERT_EQ(r, q);
  for (size_t i = 0; i < kMiB; i += 4096) ASSERT_EQ(r[i], static_cast<unsigned char>((i >> 12) * 7 + 9)) << i;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok = true;
    for (size_t i = 0; i < kMiB; i += 4096) ok &= r[i] == static_cast<unsigned char>((i >> 12) * 7 + 9);
    void* more = malloc(300 << 10);  // the block must move again
    auto* s = static_cast<unsigned char*>(realloc(r, 12 * kMiB));
    ok &= s != nullptr;
    for (size_t i = 0; ok && i < kMiB; i += 4096) ok &= s[i] == static_cast<unsigned char>((i >> 12) * 7 + 9);
    free(s);
    free(more);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  r[0] = 1;  // the parent's pages are its own
  free(r);
  free(blocker);
}

// A buffer grown in 64 KiB steps to 16 MiB among other blocks: each move
// copied the buffer and faulted the copy in (about 12 000 faults per buffer
// here); moving pages, about the buffer's own 4 096.
TEST(ReallocMremap, AGrowingBufferFaultsInItsOwnPagesOnly) {
  skip_unless_on();
  void* p = nullptr;
  std::vector<void*> between;
  const long f0 = minor_faults();
  for (size_t size = 64 << 10; size <= 16 * kMiB; size += 64 << 10) {
    p = realloc(p, size);
    ASSERT_NE(p, nullptr);
    memset(static_cast<char*>(p) + size - (64 << 10), 1, 64 << 10);
    between.push_back(malloc(300000));
  }
  const long faults = minor_faults() - f0;
  printf("%ld minor faults growing one buffer to 16 MiB\n", faults);
  EXPECT_LT(faults, 7000);
  free(p);
  for (void* v : between) free(v);
}

}  // namespace
