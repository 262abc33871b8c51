// Pagemap: one 64-bit tag per arena page, indexed by
// (p - arena_base) >> kPageShift. free() reads exactly one tag, each field by
// a load of its own (no shifts or masks on the fast path):
//
//   bias   small run: minus the run's start address, mod 2^32, so that
//          (uint32_t)(p + bias) is p's offset in its run (the divisibility
//          test's operand in two instructions: a move and an add)
//   slot   small run: the byte offset of its class's Bin in a ThreadCache
//          (free() indexes the bin, its magic and its key with it, no shift);
//          0 otherwise: bins[0], whose magic 0 refuses every pointer
//   cls    1..kNumClasses-1 small run, kLargeClass first page of a page span,
//          kFreedClass freed, 0 = no block starts here (free, unused, span
//          interior, guard)
//   owner  owner shard of the run (small runs)
#pragma once
#include <cstdint>

#include "common/base.h"

namespace hz {

struct PageTag {
  uint32_t bias;
  uint16_t slot;
  uint8_t cls;
  uint8_t owner;
};
static_assert(sizeof(PageTag) == 8, "one 8-byte tag per page");

struct PagemapState {
  uintptr_t base = 0;   // arena start (0 until initialised: nothing is ours)
  uintptr_t size = 0;   // reserved bytes; an offset >= size is not ours. Grows in
                        // place (base and tags never move); under RLIMIT_AS a
                        // free tail may be cut off again (tags stay mapped)
  PageTag* tags = nullptr;
};
extern PagemapState g_pagemap HZ_HIDDEN;

// The tag of a page that is not a small run's (page spans, freed pages, none).
HZ_INLINE constexpr PageTag make_tag(unsigned cls) { return PageTag{0, 0, static_cast<uint8_t>(cls), 0}; }
// The tag of a small run's page; run_start is the run's first byte.
HZ_INLINE PageTag make_run_tag(unsigned cls, unsigned owner, unsigned slot, uintptr_t run_start) {
  return PageTag{static_cast<uint32_t>(0 - run_start), static_cast<uint16_t>(slot), static_cast<uint8_t>(cls),
                 static_cast<uint8_t>(owner)};
}
HZ_INLINE unsigned tag_class(PageTag t) { return t.cls; }
HZ_INLINE unsigned tag_owner(PageTag t) { return t.owner; }
// p's offset in its small run (p inside a page tagged t).
HZ_INLINE uint32_t run_offset(const void* p, PageTag t) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) + t.bias);
}

// Offset of p in the arena; >= g_pagemap.size when p is not ours (incl. null).
HZ_INLINE uintptr_t arena_offset(const void* p) { return reinterpret_cast<uintptr_t>(p) - g_pagemap.base; }
HZ_INLINE const PageTag* tag_ptr(uintptr_t off) { return &g_pagemap.tags[off >> kPageShift]; }
HZ_INLINE PageTag tag_at(uintptr_t off) { return g_pagemap.tags[off >> kPageShift]; }
// The first page of the small run holding page (an arena page index); page
// itself for any other tag.
HZ_INLINE size_t run_first_page(size_t page) {
  PageTag t = g_pagemap.tags[page];
  if (t.slot == 0) return page;
  return page - (run_offset(reinterpret_cast<void*>(g_pagemap.base + (page << kPageShift)), t) >> kPageShift);
}

}  // namespace hz
