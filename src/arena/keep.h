// Large keep (HZ_LARGE_KEEP, docs/boxes.md "Large keep"): the policy for the
// dirty pages of freed spans. A freed span is not purged at free but stays
// dirty in the page heap, and later spans are placed over dirty pages before
// fresh ones (a program replacing large buffers then faults nothing in).
// Bounded: the dirty pages of free spans over kExact pages stay under
// limit_pages(), beyond which the oldest are purged at once; the decay purges
// the rest once idle. The mechanism (dirty ranges, fit, eviction) is in
// arena.cpp.
#pragma once
#include <cstddef>

#include "config.h"
#include "options/options.h"

namespace hz::arena::keep {

// Kept only while a purger can run the decay: without one (background purge
// off) an idle program would hold them for good.
inline bool on() { return kLargeKeep && options::get().background_purge; }

// Most dirty pages kept: kLargeKeepMaxBytes, and 1/kLargeKeepShare of the
// peak mapped, but never below kPurgeOnFreeBytes (kept before the box too).
inline size_t limit_pages(size_t peak_pages) {
  size_t limit = kLargeKeepMaxBytes >> kPageShift;
  if (peak_pages / kLargeKeepShare < limit) limit = peak_pages / kLargeKeepShare;
  if (limit < (kPurgeOnFreeBytes >> kPageShift)) limit = kPurgeOnFreeBytes >> kPageShift;
  return limit;
}

// Whether a freed span of npages is purged at once: from kPurgeOnFreeBytes
// unless kept (keep: a large block's, with the box on); kept, when larger
// than the bound, or under RLIMIT_AS (the program may need its address space
// for its own mappings, which must not wait for the decay).
inline bool purge_at_free(size_t npages, bool keep, size_t limit, bool under_rlimit) {
  if ((npages << kPageShift) < kPurgeOnFreeBytes) return false;
  return !keep || npages > limit || under_rlimit;
}

}  // namespace hz::arena::keep
