// Pagemap: one 32-bit tag per arena page ("PTAG32"), indexed by
// (p - arena_base) >> kPageShift. free() reads exactly one tag.
//
//   bits 0..7   class: 1..kNumClasses-1 small run, kLargeClass first page of a
//               page span, 0 = no block starts here (free, unused, span interior)
//   bits 8..15  owner shard of the run (small runs)
//   bits 16..31 page index inside the run, so the run start is idx - that
#pragma once
#include <cstdint>

#include "common/base.h"

namespace hz {

struct PagemapState {
  uintptr_t base = 0;   // arena start (0 until initialised: nothing is ours)
  uintptr_t size = 0;   // reserved bytes; an offset >= size is not ours. Grows in
                        // place (base and tags never move); under RLIMIT_AS a
                        // free tail may be cut off again (tags stay mapped)
  uint32_t* tags = nullptr;
};
extern PagemapState g_pagemap;

HZ_INLINE uint32_t make_tag(unsigned cls, unsigned owner, unsigned page_in_run) {
  return cls | (owner << 8) | ((page_in_run > 0xFFFF ? 0xFFFF : page_in_run) << 16);
}
HZ_INLINE unsigned tag_class(uint32_t t) { return t & 0xFF; }
HZ_INLINE unsigned tag_owner(uint32_t t) { return (t >> 8) & 0xFF; }
HZ_INLINE unsigned tag_page_in_run(uint32_t t) { return t >> 16; }

// Offset of p in the arena; >= g_pagemap.size when p is not ours (incl. null).
HZ_INLINE uintptr_t arena_offset(const void* p) { return reinterpret_cast<uintptr_t>(p) - g_pagemap.base; }
HZ_INLINE uint32_t tag_at(uintptr_t off) { return g_pagemap.tags[off >> kPageShift]; }

}  // namespace hz
