// A.2 — malloc-family and operator new/delete semantics with hakozuna as the
// process allocator.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

// Checking a block after a *failed* realloc is the point of some tests below.
#pragma GCC diagnostic ignored "-Wuse-after-free"

using hzt::escape;

namespace {

// Volatile so the compiler cannot fold or warn about the impossible sizes.
volatile size_t v_ptrdiff_max_plus1 = size_t(PTRDIFF_MAX) + 1;
volatile size_t v_size_max = SIZE_MAX;
volatile size_t v_64tib = size_t(64) << 40;
volatile size_t v_half = SIZE_MAX / 2 + 1;

std::vector<size_t> huge_sizes() {
  return {v_ptrdiff_max_plus1, v_size_max, v_64tib, v_64tib + 1, size_t(PTRDIFF_MAX),
          SIZE_MAX - 4096, SIZE_MAX - 15};
}

std::vector<size_t> alignments() {
  std::vector<size_t> a;
  for (size_t x = 8; x <= (size_t(16) << 20); x <<= 1) a.push_back(x);
  return a;
}

std::vector<size_t> sizes_for_alignment(size_t a) {
  std::vector<size_t> s = {1, 8, 24, 100, a / 2 + 1, a - 8, a, a + 1, 3 * a + 16, 70000};
  s.erase(std::remove_if(s.begin(), s.end(), [](size_t x) { return x == 0; }), s.end());
  return s;
}

void check_aligned_block(const char* what, void* p, size_t a, size_t n) {
  ASSERT_NE(p, nullptr) << what << " align " << a << " size " << n;
  EXPECT_TRUE(hzt::is_aligned(p, a)) << what << " returned " << p << " for align " << a
                                     << " size " << n;
  size_t u = malloc_usable_size(p);
  EXPECT_GE(u, n) << what << " align " << a << " size " << n;
  EXPECT_EQ(u, hz_usable_size(p));
  unsigned char* b = static_cast<unsigned char*>(p);
  b[0] = 1;
  b[n - 1] = 2;
  b[u - 1] = 3;
  escape(p);
}

}  // namespace

TEST(Semantics, MallocZeroGivesUniqueNonNullPointers) {
  std::set<void*> seen;
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) {
    void* p = malloc(0);
    ASSERT_NE(p, nullptr) << "malloc(0) #" << i;
    EXPECT_TRUE(seen.insert(p).second) << "malloc(0) returned live pointer " << p << " twice";
    v.push_back(p);
  }
  for (void* p : v) free(p);
  // Same for the other zero-size entry points.
  void* a = calloc(0, 0);
  void* b = calloc(0, 10);
  void* c = realloc(nullptr, 0);
  void* d = aligned_alloc(64, 0);
  void* e = ::operator new(0);
  void* f = ::operator new[](0);
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  EXPECT_NE(c, nullptr);
  EXPECT_NE(e, nullptr);
  EXPECT_NE(f, nullptr);
  EXPECT_NE(a, b);
  EXPECT_NE(e, f);
  free(a);
  free(b);
  free(c);
  free(d);
  ::operator delete(e);
  ::operator delete[](f);
}

TEST(Semantics, HugeRequestsFailWithENOMEM) {
  for (size_t n : huge_sizes()) {
    SCOPED_TRACE("size " + std::to_string(n));
    errno = 0;
    EXPECT_EQ(malloc(n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "malloc";
    errno = 0;
    EXPECT_EQ(calloc(1, n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "calloc(1,n)";
    errno = 0;
    EXPECT_EQ(calloc(n, 1), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "calloc(n,1)";
    errno = 0;
    EXPECT_EQ(realloc(nullptr, n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "realloc(NULL,n)";
    errno = 0;
    EXPECT_EQ(aligned_alloc(64, n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "aligned_alloc";
    errno = 0;
    EXPECT_EQ(memalign(4096, n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "memalign";
    errno = 0;
    EXPECT_EQ(valloc(n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "valloc";
    void* out = reinterpret_cast<void*>(0x1);
    EXPECT_EQ(posix_memalign(&out, 64, n), ENOMEM) << "posix_memalign";
    errno = 0;
    EXPECT_EQ(hz_malloc(n), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "hz_malloc";
  }
}

TEST(Semantics, MultiplicationOverflowFailsWithENOMEM) {
  struct Pair {
    size_t a, b;
  };
  const Pair pairs[] = {{v_half, 2}, {2, v_half}, {v_size_max, v_size_max},
                        {size_t(1) << 32, size_t(1) << 32}, {v_size_max / 3 + 1, 3},
                        {65537, (size_t(1) << 48) + 1}};
  for (const Pair& pr : pairs) {
    SCOPED_TRACE(std::to_string(pr.a) + " x " + std::to_string(pr.b));
    errno = 0;
    EXPECT_EQ(calloc(pr.a, pr.b), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "calloc";
    errno = 0;
    EXPECT_EQ(reallocarray(nullptr, pr.a, pr.b), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "reallocarray(NULL)";
    errno = 0;
    EXPECT_EQ(hz_calloc(pr.a, pr.b), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "hz_calloc";

    void* p = malloc(32);
    ASSERT_NE(p, nullptr);
    hzt::fill(p, 32, 1);
    errno = 0;
    EXPECT_EQ(reallocarray(p, pr.a, pr.b), nullptr);
    EXPECT_EQ(errno, ENOMEM) << "reallocarray(p)";
    EXPECT_EQ(hzt::check(p, 32, 1), 32u) << "reallocarray failure damaged the block";
    free(p);
  }
}

TEST(Semantics, PosixMemalignRejectsBadAlignment) {
  const size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 96, 1000, 4097, size_t(1) << 63 | 8};
  for (size_t a : bad) {
    void* out = nullptr;
    EXPECT_EQ(posix_memalign(&out, a, 64), EINVAL) << "alignment " << a;
    EXPECT_EQ(hz_posix_memalign(&out, a, 64), EINVAL) << "hz_posix_memalign alignment " << a;
  }
  // Huge but valid power-of-two alignment: cannot be satisfied.
  void* out = nullptr;
  int r = posix_memalign(&out, size_t(1) << 62, 64);
  EXPECT_EQ(r, ENOMEM) << "alignment 2^62";
}

TEST(Semantics, AlignedAllocRejectsBadAlignment) {
  const size_t bad[] = {3, 12, 24, 48, 96, 1000, 4097};
  for (size_t a : bad) {
    errno = 0;
    void* p = aligned_alloc(a, 64);
    EXPECT_EQ(p, nullptr) << "aligned_alloc alignment " << a;
    EXPECT_EQ(errno, EINVAL) << "aligned_alloc alignment " << a;
    free(p);
    errno = 0;
    p = hz_aligned_alloc(a, 64);
    EXPECT_EQ(p, nullptr) << "hz_aligned_alloc alignment " << a;
    EXPECT_EQ(errno, EINVAL) << "hz_aligned_alloc alignment " << a;
    hz_free(p);
  }
}

TEST(Semantics, SmallPowerOfTwoAlignmentsAccepted) {
  for (size_t a : {size_t(1), size_t(2), size_t(4)}) {
    void* p = aligned_alloc(a, 10);
    ASSERT_NE(p, nullptr) << "aligned_alloc(" << a << ", 10)";
    EXPECT_GE(malloc_usable_size(p), 10u);
    free(p);
    p = memalign(a, 10);
    ASSERT_NE(p, nullptr) << "memalign(" << a << ", 10)";
    free(p);
  }
}

// As glibc: an alignment it could round (up to 2^63) fails for want of
// memory, one beyond it is invalid.
TEST(Semantics, MemalignOfAHugeAlignmentIsENOMEMUpTo2To63) {
  for (size_t a : {size_t(1) << 62, size_t(1) << 63, (size_t(1) << 62) + 1}) {
    errno = 0;
    EXPECT_EQ(memalign(a, 1), nullptr) << a;
    EXPECT_EQ(errno, ENOMEM) << "memalign alignment " << a;
  }
  errno = 0;
  EXPECT_EQ(memalign((size_t(1) << 63) + 1, 1), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Semantics, BlocksOf16BytesOrMoreAre16ByteAligned) {
  std::vector<size_t> sizes;
  for (size_t n = 16; n <= 2048; ++n) sizes.push_back(n);
  for (size_t n = 2048; n <= (size_t(8) << 20); n = n * 5 / 4 + 8) sizes.push_back(n);
  std::vector<void*> keep;
  for (size_t n : sizes) {
    for (int rep = 0; rep < 3; ++rep) {
      void* p = malloc(n);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(hzt::is_aligned(p, 16)) << "malloc(" << n << ") = " << p;
      void* q = calloc(1, n);
      ASSERT_NE(q, nullptr);
      EXPECT_TRUE(hzt::is_aligned(q, 16)) << "calloc(1, " << n << ") = " << q;
      void* r = realloc(malloc(8), n);
      ASSERT_NE(r, nullptr);
      EXPECT_TRUE(hzt::is_aligned(r, 16)) << "realloc(malloc(8), " << n << ") = " << r;
      void* s = ::operator new(n);
      EXPECT_TRUE(hzt::is_aligned(s, 16)) << "operator new(" << n << ") = " << s;
      keep.push_back(p);
      free(q);
      free(r);
      ::operator delete(s);
    }
    if (keep.size() > 3000) {
      for (void* p : keep) free(p);
      keep.clear();
    }
  }
  for (void* p : keep) free(p);
}

TEST(Semantics, EveryPowerOfTwoAlignmentHonoured) {
  for (size_t a : alignments()) {
    for (size_t n : sizes_for_alignment(a)) {
      void* p = nullptr;
      ASSERT_EQ(posix_memalign(&p, a, n), 0) << "posix_memalign align " << a << " size " << n;
      check_aligned_block("posix_memalign", p, a, n);
      free(p);

      p = aligned_alloc(a, n);
      check_aligned_block("aligned_alloc", p, a, n);
      free(p);

      p = memalign(a, n);
      check_aligned_block("memalign", p, a, n);
      free(p);

      p = hz_aligned_alloc(a, n);
      check_aligned_block("hz_aligned_alloc", p, a, n);
      hz_free(p);

      p = ::operator new(n, std::align_val_t(a));
      check_aligned_block("operator new(align)", p, a, n);
      ::operator delete(p, std::align_val_t(a));

      p = ::operator new[](n, std::align_val_t(a), std::nothrow);
      check_aligned_block("operator new[](align, nothrow)", p, a, n);
      ::operator delete[](p, n, std::align_val_t(a));
    }
  }
}

// Many simultaneous aligned blocks of the same class: aligned and non-overlapping.
TEST(Semantics, ManyLiveAlignedBlocksDoNotOverlap) {
  for (size_t a : {size_t(32), size_t(256), size_t(4096), size_t(65536), size_t(1) << 21}) {
    std::vector<std::pair<unsigned char*, size_t>> v;
    const int count = a >= (size_t(1) << 21) ? 8 : 200;
    for (int i = 0; i < count; ++i) {
      size_t n = (i % 3 == 0) ? a / 2 + 1 : a + 24;
      auto* p = static_cast<unsigned char*>(aligned_alloc(a, n));
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(hzt::is_aligned(p, a)) << p << " align " << a;
      hzt::fill(p, n, i);
      v.push_back({p, n});
    }
    for (size_t i = 0; i < v.size(); ++i)
      EXPECT_EQ(hzt::check(v[i].first, v[i].second, i), v[i].second)
          << "block " << i << " of align " << a << " was overwritten";
    for (auto& e : v) free(e.first);
  }
}

// Every usable byte is the caller's: fill all usable bytes of many live blocks
// of each size, then verify no block was overwritten by a neighbour.
TEST(Semantics, AllUsableBytesAreWritableAndPrivate) {
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 1024; ++n) sizes.push_back(n);
  for (size_t n = 1024; n <= (size_t(4) << 20); n = n * 3 / 2 + 1) sizes.push_back(n);
  for (size_t n : sizes) {
    const int count = n <= 4096 ? 64 : n <= (1 << 20) ? 8 : 3;
    std::vector<std::pair<void*, size_t>> v;
    for (int i = 0; i < count; ++i) {
      void* p = malloc(n);
      ASSERT_NE(p, nullptr) << "malloc(" << n << ")";
      size_t u = malloc_usable_size(p);
      ASSERT_GE(u, n) << "malloc_usable_size below request " << n;
      ASSERT_EQ(u, hz_usable_size(p));
      hzt::fill(p, u, n * 1000 + i);
      v.push_back({p, u});
    }
    for (int i = 0; i < count; ++i) {
      size_t at = hzt::check(v[i].first, v[i].second, n * 1000 + i);
      EXPECT_EQ(at, v[i].second) << "size " << n << " block " << i << " (usable "
                                 << v[i].second << ") corrupted at offset " << at;
    }
    for (auto& e : v) free(e.first);
  }
}

TEST(Semantics, CallocIsZeroEvenWhenRecycled) {
  const size_t sizes[] = {1,    8,     16,    24,    48,     100,       256,       1000,
                          4096, 12345, 65536, 70000, 262144, 1u << 20, 3u << 20};
  for (size_t n : sizes) {
    SCOPED_TRACE("size " + std::to_string(n));
    const int iters = n >= (1u << 20) ? 20 : 300;
    for (int it = 0; it < iters; ++it) {
      void* d = malloc(n);
      ASSERT_NE(d, nullptr);
      memset(d, 0xFF, malloc_usable_size(d));
      escape(d);
      free(d);
      auto* z = static_cast<unsigned char*>(calloc(1, n));
      ASSERT_NE(z, nullptr);
      ASSERT_TRUE(hzt::all_zero(z, n)) << "calloc(1," << n << ") returned dirty memory, iteration "
                                       << it;
      memset(z, 0xEE, malloc_usable_size(z));
      free(z);
    }
    // Batch: dirty many, free them all, calloc as many again.
    std::vector<void*> v;
    const int batch = n >= (1u << 20) ? 6 : 200;
    for (int i = 0; i < batch; ++i) {
      void* d = malloc(n);
      ASSERT_NE(d, nullptr);
      memset(d, 0xA5, malloc_usable_size(d));
      v.push_back(d);
    }
    for (void* d : v) free(d);
    v.clear();
    for (int i = 0; i < batch; ++i) {
      void* z = calloc(n, 1);
      ASSERT_NE(z, nullptr);
      EXPECT_TRUE(hzt::all_zero(z, n)) << "calloc(" << n << ",1) #" << i << " dirty";
      v.push_back(z);
    }
    for (void* z : v) free(z);
  }
}

TEST(Semantics, CallocLargeAfterDirtyingIsZero) {
  for (size_t n : {size_t(64) << 10, size_t(1) << 20, size_t(16) << 20}) {
    for (int it = 0; it < 5; ++it) {
      // Dirty a bigger and a same-size block, so either can be recycled.
      void* a = malloc(n);
      void* b = malloc(2 * n);
      ASSERT_NE(a, nullptr);
      ASSERT_NE(b, nullptr);
      memset(a, 0x77, n);
      memset(b, 0x77, 2 * n);
      free(a);
      free(b);
      auto* z = static_cast<unsigned char*>(calloc(4, n / 4));
      ASSERT_NE(z, nullptr);
      EXPECT_TRUE(hzt::all_zero(z, n)) << "calloc of " << n << " bytes dirty";
      free(z);
      z = static_cast<unsigned char*>(hz_calloc(1, n));
      ASSERT_NE(z, nullptr);
      EXPECT_TRUE(hzt::all_zero(z, n)) << "hz_calloc of " << n << " bytes dirty";
      hz_free(z);
    }
  }
}

TEST(Semantics, ReallocPreservesContentsAcrossClasses) {
  std::vector<size_t> steps;
  for (size_t n = 16; n <= (size_t(8) << 20); n <<= 1) {
    steps.push_back(n - 1);
    steps.push_back(n);
    steps.push_back(n + 1);
    steps.push_back(n + n / 2);
  }
  for (int variant = 0; variant < 2; ++variant) {
    // variant 1 keeps a neighbour block alive between reallocs so in-place
    // growth is not always possible.
    size_t cur = 8;
    auto* p = static_cast<unsigned char*>(malloc(cur));
    ASSERT_NE(p, nullptr);
    hzt::fill(p, cur, 42);
    std::vector<void*> blockers;
    for (size_t n : steps) {
      if (variant == 1) blockers.push_back(malloc(cur));
      p = static_cast<unsigned char*>(realloc(p, n));
      ASSERT_NE(p, nullptr) << "grow to " << n;
      size_t kept = std::min(cur, n);
      ASSERT_EQ(hzt::check(p, kept, 42), kept) << "grow " << cur << " -> " << n;
      EXPECT_GE(malloc_usable_size(p), n);
      hzt::fill(p, n, 42);
      cur = n;
    }
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
      size_t n = *it;
      if (variant == 1) blockers.push_back(malloc(n));
      p = static_cast<unsigned char*>(realloc(p, n));
      ASSERT_NE(p, nullptr) << "shrink to " << n;
      size_t kept = std::min(cur, n);
      ASSERT_EQ(hzt::check(p, kept, 42), kept) << "shrink " << cur << " -> " << n;
      EXPECT_GE(malloc_usable_size(p), n);
      cur = n;
    }
    free(p);
    for (void* b : blockers) free(b);
  }
}

TEST(Semantics, ReallocJumpsBetweenDistantSizes) {
  const size_t sizes[] = {16, 8u << 20, 24, 1u << 20, 100, 64u << 10, 1, 3u << 20, 4000, 16};
  size_t cur = 16;
  auto* p = static_cast<unsigned char*>(malloc(cur));
  hzt::fill(p, cur, 9);
  for (size_t n : sizes) {
    p = static_cast<unsigned char*>(realloc(p, n));
    ASSERT_NE(p, nullptr);
    size_t kept = std::min(cur, n);
    ASSERT_EQ(hzt::check(p, kept, 9), kept) << cur << " -> " << n;
    hzt::fill(p, n, 9);
    cur = n;
  }
  free(p);
}

TEST(Semantics, ReallocAlignedBlockPreservesContents) {
  void* p = nullptr;
  ASSERT_EQ(posix_memalign(&p, 4096, 100), 0);
  hzt::fill(p, 100, 3);
  p = realloc(p, 50000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(hzt::check(p, 100, 3), 100u);
  p = realloc(p, 10);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(hzt::check(p, 10, 3), 10u);
  free(p);
}

TEST(Semantics, ReallocNullIsMalloc) {
  for (size_t n : {size_t(1), size_t(100), size_t(5000), size_t(1) << 20}) {
    void* p = realloc(nullptr, n);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(malloc_usable_size(p), n);
    EXPECT_EQ(malloc_usable_size(p), hz_usable_size(p));
    memset(p, 1, n);
    free(p);
    p = hz_realloc(nullptr, n);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(hz_usable_size(p), n);
    hz_free(p);
  }
}

TEST(Semantics, ReallocToZeroDoesNotLeak) {
  // Warm up, then do many realloc(p, 0) of various sizes; RSS must not grow.
  for (int i = 0; i < 1000; ++i) {
    void* p = realloc(malloc(100), 0);
    free(p);
  }
  size_t before = hzt::rss_bytes();
  for (int i = 0; i < 200000; ++i) {
    size_t n = 16 + (i % 64) * 40;
    if (i % 1000 == 0) n = 200000;
    void* p = malloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, 1, n);
    void* q = realloc(p, 0);
    if (q != nullptr) {
      EXPECT_EQ(malloc_usable_size(q), hz_usable_size(q));
      free(q);  // minimal block: must be freeable
    }
  }
  size_t after = hzt::rss_bytes();
  EXPECT_LT(after, before + (size_t(8) << 20))
      << "realloc(p, 0) leaks: RSS " << before << " -> " << after;
}

TEST(Semantics, FailedReallocLeavesBlockIntact) {
  for (size_t start : {size_t(24), size_t(3000), size_t(100000), size_t(4) << 20}) {
    for (size_t n : huge_sizes()) {
      auto* p = static_cast<unsigned char*>(malloc(start));
      ASSERT_NE(p, nullptr);
      hzt::fill(p, start, start);
      errno = 0;
      void* q = realloc(p, n);
      EXPECT_EQ(q, nullptr) << "realloc(" << start << " -> " << n << ") succeeded?";
      EXPECT_EQ(errno, ENOMEM);
      ASSERT_EQ(hzt::check(p, start, start), start) << "block damaged by failed realloc";
      EXPECT_GE(malloc_usable_size(p), start);
      errno = 0;
      q = hz_realloc(p, n);
      EXPECT_EQ(q, nullptr);
      EXPECT_EQ(errno, ENOMEM);
      ASSERT_EQ(hzt::check(p, start, start), start) << "block damaged by failed hz_realloc";
      free(p);
    }
  }
}

TEST(Semantics, ThrowingNewOfImpossibleSizeThrowsBadAlloc) {
  for (size_t n : huge_sizes()) {
    EXPECT_THROW(escape(::operator new(n)), std::bad_alloc) << n;
    EXPECT_THROW(escape(::operator new[](n)), std::bad_alloc) << n;
    EXPECT_THROW(escape(::operator new(n, std::align_val_t(64))), std::bad_alloc) << n;
    EXPECT_THROW(escape(::operator new[](n, std::align_val_t(4096))), std::bad_alloc) << n;
  }
}

TEST(Semantics, NothrowNewOfImpossibleSizeReturnsNull) {
  for (size_t n : huge_sizes()) {
    EXPECT_EQ(::operator new(n, std::nothrow), nullptr) << n;
    EXPECT_EQ(::operator new[](n, std::nothrow), nullptr) << n;
    EXPECT_EQ(::operator new(n, std::align_val_t(64), std::nothrow), nullptr) << n;
    EXPECT_EQ(::operator new[](n, std::align_val_t(64), std::nothrow), nullptr) << n;
    EXPECT_EQ(new (std::nothrow) char[v_64tib], nullptr);
  }
}

TEST(Semantics, NewArrayOfHugeCountThrows) {
  size_t count = v_size_max / 4;
  EXPECT_THROW(escape(new int[count + 2]), std::bad_alloc);  // size overflow
  EXPECT_THROW(escape(new char[v_64tib]), std::bad_alloc);
  struct S {
    ~S() {}
    long x[4];
  };
  EXPECT_THROW(escape(new S[v_size_max / 16]), std::bad_alloc);
  try {
    escape(new int[count + 2]);
    ADD_FAILURE() << "no exception";
  } catch (const std::bad_array_new_length&) {
  } catch (const std::bad_alloc&) {
  }
}

namespace {
int g_handler_calls = 0;
void counting_handler() {
  ++g_handler_calls;
  std::set_new_handler(nullptr);  // next attempt throws
}
}  // namespace

// Replaceable operator new must call the installed new_handler before failing.
TEST(Semantics, OperatorNewCallsNewHandler) {
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  EXPECT_THROW(escape(::operator new(v_64tib)), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 1) << "new_handler not called by operator new";
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  EXPECT_EQ(::operator new(v_64tib, std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 1) << "new_handler not called by nothrow operator new";
  std::set_new_handler(nullptr);
}

TEST(Semantics, FreeNullIsNoOp) {
  for (int i = 0; i < 1000; ++i) {
    free(nullptr);
    hz_free(nullptr);
    ::operator delete(nullptr);
    ::operator delete[](nullptr);
    ::operator delete(nullptr, std::align_val_t(64));
  }
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
  void* p = malloc(10);
  ASSERT_NE(p, nullptr);
  free(p);
}
