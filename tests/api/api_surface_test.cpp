// A.1 — the whole standard allocation surface exists, is hakozuna's (not glibc's
// or libstdc++'s), and every entry point hands out blocks that free() accepts.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include <cstddef>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);
}

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

using hzt::escape;
using hzt::from_system_lib;
using hzt::object_of;

namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

struct Sym {
  const char* name;
  const void* addr;
};

#define HZ_SYM(x) Sym{#x, reinterpret_cast<const void*>(&x)}

// Asserts `p` is a live hakozuna block of at least `n` bytes, aligned to `align`,
// and that its usable bytes can all be written.
void expect_hz_block(const char* what, void* p, size_t n, size_t align) {
  ASSERT_NE(p, nullptr) << what << "(" << n << ") returned NULL";
  size_t hz = hz_usable_size(p);
  EXPECT_GT(hz, 0u) << what << ": hz_usable_size says the block is not hakozuna's";
  EXPECT_EQ(malloc_usable_size(p), hz) << what << ": malloc_usable_size != hz_usable_size";
  EXPECT_GE(hz, n) << what << ": usable size below the request";
  EXPECT_TRUE(hzt::is_aligned(p, align)) << what << ": " << p << " not aligned to " << align;
  memset(p, 0xC3, hz);
  escape(p);
}

}  // namespace

TEST(ApiSurface, MallocFamilySymbolsAreHakozunas) {
  const Sym syms[] = {
      HZ_SYM(malloc),         HZ_SYM(free),           HZ_SYM(calloc),
      HZ_SYM(realloc),        HZ_SYM(reallocarray),   HZ_SYM(posix_memalign),
      HZ_SYM(aligned_alloc),  HZ_SYM(memalign),       HZ_SYM(valloc),
      HZ_SYM(pvalloc),        HZ_SYM(malloc_usable_size), HZ_SYM(malloc_trim),
      HZ_SYM(mallopt),        HZ_SYM(mallinfo),       HZ_SYM(mallinfo2),
      HZ_SYM(malloc_stats),   HZ_SYM(malloc_info),    HZ_SYM(__libc_malloc),  HZ_SYM(__libc_free),
      HZ_SYM(__libc_calloc),  HZ_SYM(__libc_realloc), HZ_SYM(__libc_memalign),
      HZ_SYM(__libc_valloc),  HZ_SYM(__libc_pvalloc),
  };
  for (const Sym& s : syms)
    EXPECT_FALSE(from_system_lib(s.addr))
        << s.name << " resolves into " << object_of(s.addr) << ", not hakozuna";
}

TEST(ApiSurface, OperatorNewDeleteSymbolsAreHakozunas) {
  using std::align_val_t;
  using std::nothrow_t;
  using std::size_t;
  const Sym syms[] = {
      {"new(size)", reinterpret_cast<const void*>(static_cast<void* (*)(size_t)>(&::operator new))},
      {"new[](size)", reinterpret_cast<const void*>(static_cast<void* (*)(size_t)>(&::operator new[]))},
      {"new(size,nothrow)", reinterpret_cast<const void*>(
           static_cast<void* (*)(size_t, const nothrow_t&) noexcept>(&::operator new))},
      {"new[](size,nothrow)", reinterpret_cast<const void*>(
           static_cast<void* (*)(size_t, const nothrow_t&) noexcept>(&::operator new[]))},
      {"new(size,align)", reinterpret_cast<const void*>(
           static_cast<void* (*)(size_t, align_val_t)>(&::operator new))},
      {"new[](size,align)", reinterpret_cast<const void*>(
           static_cast<void* (*)(size_t, align_val_t)>(&::operator new[]))},
      {"new(size,align,nothrow)", reinterpret_cast<const void*>(
           static_cast<void* (*)(size_t, align_val_t, const nothrow_t&) noexcept>(&::operator new))},
      {"new[](size,align,nothrow)", reinterpret_cast<const void*>(
           static_cast<void* (*)(size_t, align_val_t, const nothrow_t&) noexcept>(&::operator new[]))},
      {"delete(p)", reinterpret_cast<const void*>(static_cast<void (*)(void*) noexcept>(&::operator delete))},
      {"delete[](p)", reinterpret_cast<const void*>(static_cast<void (*)(void*) noexcept>(&::operator delete[]))},
      {"delete(p,size)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, size_t) noexcept>(&::operator delete))},
      {"delete[](p,size)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, size_t) noexcept>(&::operator delete[]))},
      {"delete(p,nothrow)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, const nothrow_t&) noexcept>(&::operator delete))},
      {"delete[](p,nothrow)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, const nothrow_t&) noexcept>(&::operator delete[]))},
      {"delete(p,align)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, align_val_t) noexcept>(&::operator delete))},
      {"delete[](p,align)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, align_val_t) noexcept>(&::operator delete[]))},
      {"delete(p,size,align)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, size_t, align_val_t) noexcept>(&::operator delete))},
      {"delete[](p,size,align)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, size_t, align_val_t) noexcept>(&::operator delete[]))},
      {"delete(p,align,nothrow)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, align_val_t, const nothrow_t&) noexcept>(&::operator delete))},
      {"delete[](p,align,nothrow)", reinterpret_cast<const void*>(
           static_cast<void (*)(void*, align_val_t, const nothrow_t&) noexcept>(&::operator delete[]))},
  };
  for (const Sym& s : syms)
    EXPECT_FALSE(from_system_lib(s.addr))
        << "operator " << s.name << " resolves into " << object_of(s.addr) << ", not hakozuna";
}

// Every C allocation entry point: the block is hakozuna's and free() takes it.
TEST(ApiSurface, EveryCEntryPointGivesFreeableHakozunaBlocks) {
  struct Entry {
    const char* name;
    std::function<void*(size_t)> fn;
    size_t align;           // alignment the entry must give
    bool page_round;        // pvalloc: usable >= request rounded up to a page
  };
  const std::vector<Entry> entries = {
      {"malloc", [](size_t n) { return malloc(n); }, 1, false},
      {"calloc", [](size_t n) { return calloc(1, n); }, 1, false},
      {"calloc(n,1)", [](size_t n) { return calloc(n, 1); }, 1, false},
      {"realloc(NULL)", [](size_t n) { return realloc(nullptr, n); }, 1, false},
      {"reallocarray(NULL)", [](size_t n) { return reallocarray(nullptr, n, 1); }, 1, false},
      {"posix_memalign(64)",
       [](size_t n) {
         void* p = nullptr;
         return posix_memalign(&p, 64, n) == 0 ? p : nullptr;
       },
       64, false},
      {"aligned_alloc(256)", [](size_t n) { return aligned_alloc(256, n); }, 256, false},
      {"memalign(4096)", [](size_t n) { return memalign(4096, n); }, 4096, false},
      {"valloc", [](size_t n) { return valloc(n); }, kPage, false},
      {"pvalloc", [](size_t n) { return pvalloc(n); }, kPage, true},
      {"__libc_malloc", [](size_t n) { return __libc_malloc(n); }, 1, false},
      {"__libc_calloc", [](size_t n) { return __libc_calloc(n, 1); }, 1, false},
      {"__libc_realloc(NULL)", [](size_t n) { return __libc_realloc(nullptr, n); }, 1, false},
      {"__libc_memalign(128)", [](size_t n) { return __libc_memalign(128, n); }, 128, false},
      {"__libc_valloc", [](size_t n) { return __libc_valloc(n); }, kPage, false},
      {"__libc_pvalloc", [](size_t n) { return __libc_pvalloc(n); }, kPage, true},
      {"hz_malloc", [](size_t n) { return hz_malloc(n); }, 1, false},
      {"hz_calloc", [](size_t n) { return hz_calloc(n, 1); }, 1, false},
      {"hz_aligned_alloc(512)", [](size_t n) { return hz_aligned_alloc(512, n); }, 512, false},
  };
  const size_t sizes[] = {1, 8, 17, 100, 1000, 4096, 5000, 70000, 300000, 3u << 20};
  for (const Entry& e : entries) {
    for (size_t n : sizes) {
      SCOPED_TRACE(std::string(e.name) + " size " + std::to_string(n));
      void* p = e.fn(n);
      size_t want = e.page_round ? (n + kPage - 1) / kPage * kPage : n;
      expect_hz_block(e.name, p, want, e.align);
      free(p);
    }
  }
}

// The glibc-internal entry points interoperate with the public ones both ways.
TEST(ApiSurface, LibcAliasesInteroperate) {
  void* a = __libc_malloc(100);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(malloc_usable_size(a), hz_usable_size(a));
  a = realloc(a, 5000);
  ASSERT_NE(a, nullptr);
  __libc_free(a);

  void* b = malloc(300);
  ASSERT_NE(b, nullptr);
  hzt::fill(b, 300, 7);
  b = __libc_realloc(b, 100000);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(hzt::check(b, 300, 7), 300u);
  EXPECT_EQ(malloc_usable_size(b), hz_usable_size(b));
  __libc_free(b);

  void* c = __libc_calloc(10, 10);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(hzt::all_zero(c, 100));
  hz_free(c);

  void* d = hz_malloc(64);
  ASSERT_NE(d, nullptr);
  __libc_free(d);
  void* e = __libc_pvalloc(1);
  ASSERT_NE(e, nullptr);
  EXPECT_GE(malloc_usable_size(e), kPage);
  free(e);
}

TEST(ApiSurface, ReallocarrayWorks) {
  int* p = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; ++i) p[i] = i * 3;
  p = static_cast<int*>(reallocarray(p, 100000, sizeof(int)));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p[i], i * 3);
  EXPECT_GE(malloc_usable_size(p), 100000 * sizeof(int));
  EXPECT_EQ(malloc_usable_size(p), hz_usable_size(p));
  free(p);
}

TEST(ApiSurface, PvallocRoundsUpToPages) {
  const size_t sizes[] = {1, kPage - 1, kPage, kPage + 1, 5 * kPage + 3, 1u << 20};
  for (size_t n : sizes) {
    void* p = pvalloc(n);
    ASSERT_NE(p, nullptr) << "pvalloc(" << n << ")";
    size_t want = (n + kPage - 1) / kPage * kPage;
    EXPECT_TRUE(hzt::is_aligned(p, kPage));
    ASSERT_GE(malloc_usable_size(p), want) << "pvalloc(" << n << ")";
    EXPECT_EQ(malloc_usable_size(p), hz_usable_size(p));
    memset(p, 1, want);
    free(p);
  }
  void* z = pvalloc(0);  // zero pages: any freeable block (glibc gives a minimal one)
  ASSERT_NE(z, nullptr);
  EXPECT_TRUE(hzt::is_aligned(z, kPage));
  free(z);
}

TEST(ApiSurface, MalloptIsAccepted) {
  EXPECT_EQ(mallopt(M_MMAP_THRESHOLD, 256 * 1024), 1);
  EXPECT_EQ(mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
  EXPECT_EQ(mallopt(M_ARENA_MAX, 2), 1);
  EXPECT_EQ(mallopt(M_TOP_PAD, 0), 1);
  // Still allocating normally afterwards.
  void* p = malloc(1 << 20);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(malloc_usable_size(p), hz_usable_size(p));
  free(p);
}

TEST(ApiSurface, MallinfoAndStatsAreCallable) {
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(malloc(100 + i));
  struct mallinfo m1 = mallinfo();
  struct mallinfo2 m2 = mallinfo2();
  escape(&m1);
  escape(&m2);
  // Plausibility: no field may claim more than the address space we could have.
  EXPECT_LT(m2.uordblks, size_t(1) << 46);
  EXPECT_LT(m2.arena, size_t(1) << 46);
  malloc_stats();  // prints to stderr; must not crash or allocate recursively
  for (void* p : v) free(p);
}

// glibc's format; the totals are ours (glibc's own would read an untouched
// arena: all zeros).
TEST(ApiSurface, MallocInfoWritesOurTotals) {
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(malloc(1000 + i));
  char* text = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&text, &len);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(malloc_info(0, f), 0);
  fclose(f);
  std::string xml(text, len);
  free(text);
  EXPECT_EQ(xml.rfind("<malloc version=\"1\">", 0), 0u) << xml;
  EXPECT_NE(xml.find("</malloc>"), std::string::npos) << xml;
  size_t at = xml.find("<system type=\"current\" size=\"");
  ASSERT_NE(at, std::string::npos) << xml;
  unsigned long long current = std::strtoull(xml.c_str() + at + 29, nullptr, 10);
  EXPECT_GE(current, 1000u * 1000u) << xml;  // the million bytes live now, at least
  EXPECT_EQ(malloc_info(1, stdout), EINVAL);  // no option is defined
  for (void* p : v) free(p);
}

TEST(ApiSurface, MallocTrimReturnsZeroOrOne) {
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) v.push_back(malloc(4096 + i));
  for (void* p : v) free(p);
  int r = malloc_trim(0);
  EXPECT_TRUE(r == 0 || r == 1) << r;
  r = malloc_trim(1 << 20);
  EXPECT_TRUE(r == 0 || r == 1) << r;
  r = hz_trim();
  EXPECT_TRUE(r == 0 || r == 1) << r;
  void* p = malloc(12345);  // still usable after trimming
  ASSERT_NE(p, nullptr);
  memset(p, 0, 12345);
  free(p);
}

TEST(ApiSurface, EveryOperatorNewAndDeleteForm) {
  using std::align_val_t;
  const size_t sizes[] = {1, 24, 200, 4096, 100000, 2u << 20};
  for (size_t n : sizes) {
    SCOPED_TRACE("size " + std::to_string(n));
    void* p;
    p = ::operator new(n);
    expect_hz_block("new", p, n, n >= 16 ? 16 : 1);
    ::operator delete(p);
    p = ::operator new[](n);
    expect_hz_block("new[]", p, n, n >= 16 ? 16 : 1);
    ::operator delete[](p);
    p = ::operator new(n, std::nothrow);
    expect_hz_block("new nothrow", p, n, 1);
    ::operator delete(p, std::nothrow);
    p = ::operator new[](n, std::nothrow);
    expect_hz_block("new[] nothrow", p, n, 1);
    ::operator delete[](p, std::nothrow);
    p = ::operator new(n);
    expect_hz_block("new", p, n, 1);
    ::operator delete(p, n);  // sized
    p = ::operator new[](n);
    expect_hz_block("new[]", p, n, 1);
    ::operator delete[](p, n);  // sized
    for (size_t a : {size_t(32), size_t(64), size_t(4096), size_t(1) << 16}) {
      SCOPED_TRACE("align " + std::to_string(a));
      p = ::operator new(n, align_val_t(a));
      expect_hz_block("new align", p, n, a);
      ::operator delete(p, align_val_t(a));
      p = ::operator new[](n, align_val_t(a));
      expect_hz_block("new[] align", p, n, a);
      ::operator delete[](p, align_val_t(a));
      p = ::operator new(n, align_val_t(a), std::nothrow);
      expect_hz_block("new align nothrow", p, n, a);
      ::operator delete(p, align_val_t(a), std::nothrow);
      p = ::operator new[](n, align_val_t(a), std::nothrow);
      expect_hz_block("new[] align nothrow", p, n, a);
      ::operator delete[](p, align_val_t(a), std::nothrow);
      p = ::operator new(n, align_val_t(a));
      expect_hz_block("new align", p, n, a);
      ::operator delete(p, n, align_val_t(a));  // sized + aligned
      p = ::operator new[](n, align_val_t(a));
      expect_hz_block("new[] align", p, n, a);
      ::operator delete[](p, n, align_val_t(a));  // sized + aligned
    }
  }
}

// Blocks from every operator new form are ordinary hakozuna blocks: free() takes them.
TEST(ApiSurface, OperatorNewBlocksAreFreeableByFree) {
  using std::align_val_t;
  void* ps[] = {
      ::operator new(40),
      ::operator new[](4000),
      ::operator new(70000, std::nothrow),
      ::operator new[](7, std::nothrow),
      ::operator new(100, align_val_t(64)),
      ::operator new[](5000, align_val_t(8192)),
      ::operator new(3, align_val_t(128), std::nothrow),
      ::operator new[](1 << 20, align_val_t(1 << 16), std::nothrow),
  };
  for (void* p : ps) {
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(malloc_usable_size(p), hz_usable_size(p));
    free(p);
  }
}

// new-expressions in ordinary code go through hakozuna's operators.
TEST(ApiSurface, NewExpressionsUseHakozuna) {
  struct alignas(64) Wide {
    char c[100];
  };
  auto* s = new std::string(1000, 'x');
  EXPECT_EQ(malloc_usable_size(const_cast<char*>(s->data())),
            hz_usable_size(s->data()));
  EXPECT_GE(hz_usable_size(s), sizeof(std::string));
  delete s;
  Wide* w = new Wide[7];
  EXPECT_TRUE(hzt::is_aligned(w, 64));
  EXPECT_GE(hz_usable_size(w), 7 * sizeof(Wide));  // trivial type: no array cookie
  delete[] w;
  auto* v = new std::vector<int>(100000, 5);
  EXPECT_GE(hz_usable_size(v->data()), 100000 * sizeof(int));
  delete v;
}
