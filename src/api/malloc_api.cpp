// The malloc family: the prefixed hz_* API, and (HZ_OVERRIDE builds) the
// standard names as aliases of it, glibc's __libc_* names included, so no entry
// point can hand out a block from another allocator.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/alloc_path.h"
#include "api/free_path.h"
#include "budget/budget.h"
#include "cache/remote_free.h"
#include "check/hardened.h"
#include "hakozuna.h"
#include "stats/profile.h"
#include "stats/stats.h"

namespace hz {

// ---- out-of-line pieces of the fast paths ----

void* alloc_big(size_t size, bool zero) {
  if (size <= kMaxSmallSize) {
    void* p = alloc_class(class_of_medium(size));
    if (p && zero) memset(p, 0, size);
    return p;
  }
  if (HZ_UNLIKELY(size > PTRDIFF_MAX || !ensure_process_init())) {
    errno = ENOMEM;
    return nullptr;
  }
  return large::alloc(size, kPageSize, zero);
}

void* alloc_medium(size_t size) {
  if (HZ_LIKELY(size <= kMaxSmallSize)) {
    size_t index = (size + detail::kMediumStep - 1) / detail::kMediumStep;
    // The refill takes the index, which stays in its register.
    return alloc_bin(t_sizes->by_class[kTables.medium[index]], [index] { return alloc_refill_medium(index); });
  }
  return alloc_big(size, false);
}

void free_outside(void* p, const char* call) {
  if (p != nullptr) invalid_pointer(call, p);
}

// True if p starts a block of the small run its page tag describes.
static bool small_block_start(const void* p, PageTag tag) {
  uint64_t magic = kDivMagic[tag_class(tag)];
  return tag_is_run(tag) && uint64_t{run_offset(p, tag)} * magic < magic;
}

// The slow paths read the tag again: passing it would make the fast path
// keep the tag's address in a register of its own (an lea more).
void free_span_or_invalid(void* p, const char* call) {
  PageTag tag = tag_at(arena_offset(p));
  if (HZ_LIKELY(tag_is_run(tag))) {
    // Another owner's block, or this thread's first free: the fast path's
    // checks, then the remote path (which sets the thread up first).
    unsigned cls = tag_class(tag);
    uint64_t magic = kDivMagic[cls];
    if (HZ_LIKELY(uint64_t{run_offset(p, tag)} * magic < magic)) {
      auto* b = static_cast<FreeBlock*>(p);
      if (HZ_UNLIKELY(!mark_free(b, kTables.key[cls]))) return report_double_free(p, "free");
      return free_remote(b, cls, tag_owner(tag));
    }
  } else if (tag_class(tag) == kLargeClass && (arena_offset(p) & (kPageSize - 1)) == 0) {
    return large::free(p);
  }
  bad_pointer(call, p);
}

void report_double_free(void* p, const char* call) { double_free(call, p); }

void size_mismatch(void* p, SizeCheck how) {
  misuse(sized_call(how), "size does not match the block", p);
}

void free_span_sized(void* p, size_t size, SizeCheck how) {
  PageTag tag = tag_at(arena_offset(p));
  if (small_block_start(p, tag) && !size_fits_class(tag_class(tag), size, how)) size_mismatch(p, how);
  if (tag_class(tag) == kLargeClass && (arena_offset(p) & (kPageSize - 1)) == 0) {
    size_t pages = (size + kPageSize - 1) >> kPageShift, have = large::usable_size(p) >> kPageShift;
    if (how == SizeCheck::kExact ? pages != have : pages > have) size_mismatch(p, how);
  }
  free_span_or_invalid(p, sized_call(how));
}
void* report_bad_free_list(void* b) { heap_corruption(kNotAFreeBlock, b); }

void bad_pointer(const char* call, const void* p) {
  uintptr_t off = arena_offset(p);
  if (off < pagemap_size()) {
    PageTag tag = tag_at(off);
    if (tag_class(tag) == kFreedClass) double_free(call, p);
    if (tag_class(tag) != 0 && tag_class(tag) < kNumClasses && is_free_block(p, tag_class(tag))) double_free(call, p);
  }
  invalid_pointer(call, p);
}

// Usable size of a block we handed out; 0 if p is not one.
size_t block_size(const void* p) {
  uintptr_t off = arena_offset(p);
  if (off >= pagemap_size()) return 0;
  PageTag tag = tag_at(off);
  unsigned cls = tag_class(tag);
  if (cls == kLargeClass) return (off & (kPageSize - 1)) == 0 ? large::usable_size(p) : 0;
  uint64_t run_off = run_offset(p, tag);
  uint64_t magic = kDivMagic[cls];  // 0 for anything but a small class: fails
  return run_off * magic < magic ? kClasses[cls].size : 0;
}

void* alloc_aligned(size_t align, size_t size) {
  if (align <= 16) return alloc(size);  // every class size is a multiple of 16
  if (HZ_UNLIKELY(size > PTRDIFF_MAX)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (align <= kPageSize && size <= kMaxSmallSize) {
    // Runs start on a page, so a class whose size is a multiple of align
    // aligns every block: no over-allocation, no cost to the common path.
    size_t s = size ? (size + align - 1) & ~(align - 1) : align;
    if (s <= kMaxSmallSize) {
      unsigned cls = class_of(s);
      while (cls < kNumClasses && kClasses[cls].size % align != 0) ++cls;
      if (cls < kNumClasses) return alloc_class(cls);
    }
  }
  if (!ensure_process_init()) {
    errno = ENOMEM;
    return nullptr;
  }
  return large::alloc(size ? size : 1, align, false);
}

namespace {
bool valid_alignment(size_t align) { return align != 0 && (align & (align - 1)) == 0; }
// The entry points' aligned allocation: through the hardened layer there.
void* api_aligned(size_t align, size_t size) {
  if constexpr (kHardened) return hardened::aligned(align, size);
  return alloc_aligned(align, size);
}
}  // namespace

}  // namespace hz

using namespace hz;

HZ_EXPORT void* hz_malloc(size_t size) noexcept {
  if constexpr (kHardened) return hardened::malloc(size);
  return alloc(size);
}

HZ_EXPORT void hz_free(void* p) noexcept {
  if constexpr (kHardened) return hardened::free(p, "free");
  dealloc(p);
}

HZ_EXPORT void* hz_calloc(size_t count, size_t size) noexcept {
  size_t total;
  if (HZ_UNLIKELY(__builtin_mul_overflow(count, size, &total))) {
    errno = ENOMEM;
    return nullptr;
  }
  if constexpr (kHardened) return hardened::calloc(total);
  if (total <= kLookupMax) {
    void* p = alloc_class(kClassLookup[(total + 15) >> 4]);
    if (p) memset(p, 0, total);
    return p;
  }
  return alloc_big(total, true);
}

HZ_EXPORT void* hz_realloc(void* p, size_t size) noexcept {
  if constexpr (kHardened) return hardened::realloc(p, size);
  if (p == nullptr) return alloc(size);
  size_t old = block_size(p);
  if (HZ_UNLIKELY(old == 0 || (old <= kMaxSmallSize && is_free_block(p, class_of(old))))) bad_pointer("realloc", p);
  if (size == 0) {  // glibc: frees and returns NULL
    dealloc(p);
    return nullptr;
  }
  // A large block shrinks where it is (its tail goes back to the page heap).
  if (size < old && size > kMaxSmallSize) {
    large::shrink_in_place(p, size);
    return p;
  }
  if (size <= old && size >= old / 2) return p;
  // A large block grows where it is when the pages after it are free.
  if (size > old && old > kMaxSmallSize && large::grow_in_place(p, size)) return p;
  void* q = size > old && old > kMaxSmallSize ? large::alloc_moved(old, size) : alloc(size);
  if (HZ_UNLIKELY(q == nullptr)) return nullptr;  // p stays valid
  memcpy(q, p, size < old ? size : old);
  if (old > kMaxSmallSize && size > old) {
    large::free(p, true);  // a page span (blocks of a size class are no larger)
  } else {
    dealloc(p);
  }
  return q;
}

HZ_EXPORT void* hz_reallocarray(void* p, size_t count, size_t size) noexcept {
  size_t total;
  if (HZ_UNLIKELY(__builtin_mul_overflow(count, size, &total))) {
    errno = ENOMEM;
    return nullptr;
  }
  return hz_realloc(p, total);
}

HZ_EXPORT void* hz_aligned_alloc(size_t align, size_t size) noexcept {
  if (HZ_UNLIKELY(!valid_alignment(align))) {
    errno = EINVAL;
    return nullptr;
  }
  return api_aligned(align, size);
}

HZ_EXPORT int hz_posix_memalign(void** out, size_t align, size_t size) noexcept {
  if (HZ_UNLIKELY(!valid_alignment(align) || align % sizeof(void*) != 0)) return EINVAL;
  int saved = errno;
  void* p = api_aligned(align, size);
  errno = saved;  // posix_memalign reports through its result, not errno
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

HZ_EXPORT void* hz_memalign(size_t align, size_t size) noexcept {
  // glibc rounds a non-power-of-two alignment up instead of failing, and
  // refuses (EINVAL) only what cannot be rounded: above 2^63; 2^63 is ENOMEM.
  if (align > (size_t{1} << 63)) {
    errno = EINVAL;
    return nullptr;
  }
  if (!valid_alignment(align)) align = align <= 1 ? 1 : size_t{1} << (64 - __builtin_clzll(align - 1));
  return api_aligned(align, size);
}

HZ_EXPORT void* hz_valloc(size_t size) noexcept { return api_aligned(kPageSize, size); }

HZ_EXPORT void* hz_pvalloc(size_t size) noexcept {
  if (size > PTRDIFF_MAX) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t rounded = size ? (size + kPageSize - 1) & ~(kPageSize - 1) : kPageSize;
  return api_aligned(kPageSize, rounded);
}

HZ_EXPORT size_t hz_usable_size(const void* p) noexcept {
  if constexpr (kHardened) return hardened::usable_size(p);
  return p ? block_size(p) : 0;
}

HZ_EXPORT int hz_trim(void) noexcept {
  if (!process_ready()) return 0;
  if constexpr (kHardened) hardened::flush_quarantine();
  size_t released = budget::trim();
  if (HZ_UNLIKELY(profile::on())) profile::on_trim(released);
  return released > 0 ? 1 : 0;
}

HZ_EXPORT void hz_stats_print(void) noexcept { stats::print_report(); }

HZ_EXPORT int hz_version(void) noexcept { return HAKOZUNA_VERSION; }

HZ_EXPORT void hz_free_sized(void* p, size_t size) noexcept {
  if constexpr (kHardened) return hardened::free_sized(p, size, SizeCheck::kAtMost);
  dealloc<SizeCheck::kAtMost>(p, size);
}

// C++ sized delete (api/new_delete.cpp): the size of the type new allocated.
extern "C" __attribute__((visibility("hidden"))) void hz_delete_sized(void* p, size_t size) noexcept {
  if constexpr (kHardened) return hardened::free_sized(p, size, SizeCheck::kExact);
  dealloc<SizeCheck::kExact>(p, size);
}

// C++ sized aligned delete: the size asked for, in a block alignment may
// have made larger.
extern "C" __attribute__((visibility("hidden"))) void hz_delete_aligned_sized(void* p, size_t size) noexcept {
  if constexpr (kHardened) return hardened::free_sized(p, size, SizeCheck::kAlignedDelete);
  dealloc<SizeCheck::kAlignedDelete>(p, size);
}

// ---- the standard names ----
#if HZ_OVERRIDE
#define HZ_ALIAS(target) __attribute__((alias(#target), visibility("default"), used))

extern "C" {
void* malloc(size_t) noexcept HZ_ALIAS(hz_malloc);
void free(void*) noexcept HZ_ALIAS(hz_free);
void* calloc(size_t, size_t) noexcept HZ_ALIAS(hz_calloc);
void* realloc(void*, size_t) noexcept HZ_ALIAS(hz_realloc);
void* reallocarray(void*, size_t, size_t) noexcept HZ_ALIAS(hz_reallocarray);
void* aligned_alloc(size_t, size_t) noexcept HZ_ALIAS(hz_aligned_alloc);
int posix_memalign(void**, size_t, size_t) noexcept HZ_ALIAS(hz_posix_memalign);
void* memalign(size_t, size_t) noexcept HZ_ALIAS(hz_memalign);
void* valloc(size_t) noexcept HZ_ALIAS(hz_valloc);
void* pvalloc(size_t) noexcept HZ_ALIAS(hz_pvalloc);
size_t malloc_usable_size(void*) noexcept HZ_ALIAS(hz_usable_size);
void cfree(void*) noexcept HZ_ALIAS(hz_free);
void free_sized(void*, size_t) noexcept HZ_ALIAS(hz_free_sized);
void* __libc_malloc(size_t) noexcept HZ_ALIAS(hz_malloc);
void __libc_free(void*) noexcept HZ_ALIAS(hz_free);
void* __libc_calloc(size_t, size_t) noexcept HZ_ALIAS(hz_calloc);
void* __libc_realloc(void*, size_t) noexcept HZ_ALIAS(hz_realloc);
void* __libc_memalign(size_t, size_t) noexcept HZ_ALIAS(hz_memalign);
void* __libc_valloc(size_t) noexcept HZ_ALIAS(hz_valloc);
void* __libc_pvalloc(size_t) noexcept HZ_ALIAS(hz_pvalloc);
}

HZ_EXPORT int malloc_trim(size_t) noexcept { return hz_trim(); }
HZ_EXPORT int mallopt(int, int) noexcept { return 1; }  // accepted, nothing to tune
HZ_EXPORT void malloc_stats(void) noexcept { stats::print_report(); }

HZ_EXPORT struct mallinfo2 mallinfo2(void) noexcept {
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  if (!process_ready()) return mi;
  arena::Usage u = arena::usage();
  mi.arena = u.mapped_bytes;
  mi.uordblks = u.in_use_bytes;
  mi.fordblks = u.dirty_free_bytes;
  mi.usmblks = u.mapped_peak_bytes;
  return mi;
}

// glibc's XML, with hakozuna's totals where glibc puts its arenas' (a tool
// that reads "system current" or "aspace total" gets ours, not the zeros of
// glibc's untouched arena). fprintf may allocate, as glibc's own does here:
// the program's call, no lock of ours held.
HZ_EXPORT int malloc_info(int options, FILE* out) noexcept {
  if (options != 0) return EINVAL;
  arena::Usage u{};
  if (process_ready()) u = arena::usage();
  int r = fprintf(out,
                  "<malloc version=\"1\">\n"
                  "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
                  "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
                  "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
                  "<system type=\"current\" size=\"%zu\"/>\n"
                  "<system type=\"max\" size=\"%zu\"/>\n"
                  "<aspace type=\"total\" size=\"%zu\"/>\n"
                  "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
                  "</malloc>\n",
                  u.dirty_free_bytes, u.mapped_bytes, u.mapped_peak_bytes, u.mapped_bytes, u.mapped_bytes);
  return r < 0 ? errno : 0;
}

HZ_EXPORT struct mallinfo mallinfo(void) noexcept {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = static_cast<int>(m2.arena);
  mi.uordblks = static_cast<int>(m2.uordblks);
  mi.fordblks = static_cast<int>(m2.fordblks);
  mi.usmblks = static_cast<int>(m2.usmblks);
  return mi;
}
#endif

// One line at exit when HAKOZUNA_STATS=1.
__attribute__((destructor)) static void hz_report_at_exit() {
  // Hardened: the exiting thread's quarantine is checked for writes after free.
  if constexpr (kHardened) hardened::flush_quarantine();
  stats::at_exit();
}
