// Large keep (HZ_LARGE_KEEP, docs/boxes.md "Large keep"): the policy for the
// dirty pages of freed spans. A freed span is not purged at free but stays
// dirty in the page heap, and later spans are placed over dirty pages before
// fresh ones (a program replacing large buffers then faults nothing in).
// Bounded: the dirty pages of free spans over kExact pages stay under
// limit_pages(), beyond which the oldest are purged at once; the decay purges
// the rest once idle. The mechanism (dirty ranges, fit, eviction) is in
// arena.cpp.
#pragma once
#include <atomic>
#include <cstddef>

#include "config.h"
#include "options/options.h"

namespace hz::arena::keep {

inline bool on() { return kLargeKeep; }
// With background purge off no purger ever runs: what is kept goes back only
// from the program's own allocator calls, so it keeps no more than the floor
// (below) and no spare, as a single-threaded program does before its purger
// starts. Purging every freed span instead made a buffer replaced in a loop
// fault all its pages in each time (a perl string kept near 5 MB: 58 s
// against 2.6 s with the purger, 193 GB purged).
inline bool no_purger() { return !options::get().background_purge; }

// The bound for one span: kLargeKeepMaxBytes, and 1/kLargeKeepShare of the
// peak mapped, but never below kPurgeOnFreeBytes (kept before the box).
inline size_t span_limit_pages(size_t peak_pages) {
  size_t limit = kLargeKeepMaxBytes >> kPageShift;
  if (peak_pages / kLargeKeepShare < limit) limit = peak_pages / kLargeKeepShare;
  if (limit < (kPurgeOnFreeBytes >> kPageShift)) limit = kPurgeOnFreeBytes >> kPageShift;
  if (no_purger() && limit > (kLargeKeepMinBytes >> kPageShift)) limit = kLargeKeepMinBytes >> kPageShift;
  return limit;
}

// Most dirty pages kept in all: the same, but never below kLargeKeepMinBytes.
// The floor keeps several spans each within the share (one buffer replaced,
// the old freed after the new is made), not one span beyond it: GNU sort
// freed a 4 MiB buffer, kept, and faulted fresh pages in for its next blocks
// (8.4 MB against 6.7). A single-threaded program keeping less than
// kLargeKeepPurgerBytes has no purger, and holds up to the floor while it
// idles, as jemalloc and mimalloc hold theirs until their next call: the
// floor only while a purger ran made its buffers fault (malloc_large_1n at
// half speed) once it no longer started one at 4 MiB.
inline size_t limit_pages(size_t peak_pages) {
  size_t limit = span_limit_pages(peak_pages);
  if (limit < (kLargeKeepMinBytes >> kPageShift)) limit = kLargeKeepMinBytes >> kPageShift;
  return limit;  // no_purger(): the floor, as span_limit_pages is capped at it
}

// What becomes of a freed span of npages. A large block's under RLIMIT_AS
// (under_rlimit, with the box or without): purged at once, whatever its
// size (the program may need the address space for its own mappings, which
// must not wait for the decay). Otherwise purged at once from
// kPurgeOnFreeBytes unless kept: not when larger than kLargeKeepMaxBytes;
// when larger than the bound for one span (span_limit_pages), it is the
// spare: kept outside the bound until a span is placed elsewhere or a purger
// tick passes unused (then purged; docs/boxes.md "The spare").
enum class AtFree { kKeep, kSpare, kPurge };
inline AtFree at_free(size_t npages, bool keep, size_t limit, bool under_rlimit) {
  if (under_rlimit) return AtFree::kPurge;  // any size: 30 blocks of 3 MiB freed held 90 MiB of it
  if ((npages << kPageShift) < kPurgeOnFreeBytes) return AtFree::kKeep;
  if (!keep) return AtFree::kPurge;
  if (npages <= limit) return AtFree::kKeep;
  return kLargeKeepSpare && !no_purger() && (npages << kPageShift) <= kLargeKeepMaxBytes ? AtFree::kSpare : AtFree::kPurge;
}

}  // namespace hz::arena::keep
