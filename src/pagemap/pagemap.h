// Pagemap: one 64-bit tag per arena page, indexed by
// (p - arena_base) >> kPageShift. free() reads exactly one tag, each field by
// a load of its own (no shifts or masks on the fast path):
//
//   bias  small run: minus the run's start address, mod 2^32, so that
//         (uint32_t)(p + bias) is p's offset in its run (the divisibility
//         test's operand in two instructions: a move and an add). Any other
//         page: its class (kLargeClass first page of a page span, kFreedClass
//         freed, 0 no block starts here: free, unused, span interior, guard)
//   slot  small run: where free() finds the bin of the run's class *and
//         owner* in the calling thread's bin region (bin_slot(); the region
//         is cache/thread_cache.h's BinRegion). A thread writes only the bins
//         of its own shard; every other owner's slot, and slot 0 (any other
//         page), reads a magic of 0, which fails the divisibility test: one
//         branch sends spans, invalid pointers, remote frees and threads not
//         yet set up to the slow path, and no owner compare is left.
#pragma once
#include <cstdint>

#include "common/base.h"
#include "size_class/size_class.h"

namespace hz {

struct alignas(8) PageTag {
  uint32_t bias;
  uint32_t slot;
};
static_assert(sizeof(PageTag) == 8, "one 8-byte tag per page");

// The bin region's geometry (cache/thread_cache.h lays BinRegion out to match).
inline constexpr uint32_t kBinBytes = 32;     // sizeof(Bin)
// The region's unused bin and malloc's tables (a bin, one pointer per size
// index and per class), 64-byte aligned.
inline constexpr uint32_t kBinHeader =
    (kBinBytes + 8 * (kLookupMax / kSizeTableStep + 1 + kNumClasses) + 63) / 64 * 64;
inline constexpr uint32_t kBinStride = 2048;  // one owner's bins
static_assert(kNumClasses * kBinBytes <= kBinStride, "an owner's bins must fit its stride");
HZ_INLINE constexpr uint32_t bin_slot(unsigned cls, unsigned owner) {
  return kBinHeader + owner * kBinStride + cls * kBinBytes;
}

struct PagemapState {
  uintptr_t base = 0;   // arena start (0 until initialised: nothing is ours)
  uintptr_t size = 0;   // bytes reserved whose tags are open; an offset >= size
                        // is not ours. Grows in place (base and tags never
                        // move); under RLIMIT_AS a free tail may be cut off
                        // again (tags stay open)
  PageTag* tags = nullptr;
};
extern PagemapState g_pagemap HZ_HIDDEN;

// The tag of a page that is not a small run's (page spans, freed pages, none).
HZ_INLINE constexpr PageTag make_tag(unsigned cls) { return PageTag{cls, 0}; }
// The tag of a small run's page; run_start is the run's first byte.
HZ_INLINE PageTag make_run_tag(unsigned cls, unsigned owner, uintptr_t run_start) {
  return PageTag{static_cast<uint32_t>(0 - run_start), bin_slot(cls, owner)};
}
HZ_INLINE bool tag_is_run(PageTag t) { return t.slot != 0; }
HZ_INLINE unsigned tag_class(PageTag t) {
  return tag_is_run(t) ? (t.slot - kBinHeader) % kBinStride / kBinBytes : t.bias;
}
HZ_INLINE unsigned tag_owner(PageTag t) { return tag_is_run(t) ? (t.slot - kBinHeader) / kBinStride : 0; }
// p's offset in its small run (p inside a page tagged t).
HZ_INLINE uint32_t run_offset(const void* p, PageTag t) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) + t.bias);
}

// The bytes free() takes as ours, read without the lock while the page heap
// stores it (release) as it opens pages. A plain load: GCC keeps it in the
// fast path's compare, where a relaxed atomic load costs a move more (39 ->
// 40 instructions per pair); on x86-64 both are one aligned load. Under
// ThreadSanitizer, the atomic load it can see.
HZ_INLINE uintptr_t pagemap_size() {
#if defined(__SANITIZE_THREAD__)
  return __atomic_load_n(&g_pagemap.size, __ATOMIC_RELAXED);
#else
  return g_pagemap.size;
#endif
}
// Offset of p in the arena; >= g_pagemap.size when p is not ours (incl. null).
HZ_INLINE uintptr_t arena_offset(const void* p) { return reinterpret_cast<uintptr_t>(p) - g_pagemap.base; }
HZ_INLINE const PageTag* tag_ptr(uintptr_t off) { return &g_pagemap.tags[off >> kPageShift]; }
HZ_INLINE PageTag tag_at(uintptr_t off) { return g_pagemap.tags[off >> kPageShift]; }
// The first page of the small run holding page (an arena page index); page
// itself for any other tag.
HZ_INLINE size_t run_first_page(size_t page) {
  PageTag t = g_pagemap.tags[page];
  if (!tag_is_run(t)) return page;
  return page - (run_offset(reinterpret_cast<void*>(g_pagemap.base + (page << kPageShift)), t) >> kPageShift);
}

}  // namespace hz
