// Arena: one reserved address range, its per-page run metadata, and the page
// heap that carves it into spans (runs of pages). All page-heap calls take
// the heap lock internally; they are slow-path only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "common/base.h"
#include "pagemap/pagemap.h"
#include "size_class/size_class.h"

namespace hz {

namespace hardened {
// Random in the hardened build (set before the first block exists), 0 in
// the others, where the links below are plain pointers.
extern uint64_t g_link_secret;
}

// A free block: word 0 links it, word 1 holds its free key (kFreeKey, see
// check/free_key.h). Lists between threads are chains of batches: a batch's
// first block carries a header (its last block and its length) so a consumer
// splices a whole batch into a bin touching two blocks instead of walking
// every one (each a cache miss when another core freed it). The header sits in
// word 2, or in word 1 without the key; a class too small for it (16 bytes
// with the key) has no header, and each of its blocks is a batch of one.
//
// The hardened build stores the link and the header xor'd with a secret and
// the block's address: a write after free cannot aim the list at a chosen
// address, and a link that decodes to outside the arena is reported.
struct FreeBlock {
  uintptr_t link;  // through next() and set_next() only
  uint64_t key;

  HZ_INLINE uintptr_t mask() const {
    if constexpr (kHardened) return hardened::g_link_secret ^ reinterpret_cast<uintptr_t>(this);
    return 0;
  }
  HZ_INLINE FreeBlock* next() const {
    uintptr_t n = link ^ mask();
    if (kHardened && HZ_UNLIKELY(n != 0 && arena_offset(reinterpret_cast<void*>(n)) >= pagemap_size()))
      heap_corruption("a free list link was overwritten", this);
    return reinterpret_cast<FreeBlock*>(n);
  }
  HZ_INLINE void set_next(FreeBlock* n) { link = reinterpret_cast<uintptr_t>(n) ^ mask(); }
};

HZ_INLINE constexpr bool has_header(unsigned cls) { return !kFreeKey || kClasses[cls].size >= 24; }
HZ_INLINE uint64_t& header_word(FreeBlock* b) { return reinterpret_cast<uint64_t*>(b)[kFreeKey ? 2 : 1]; }

HZ_INLINE void set_batch(FreeBlock* first, FreeBlock* last, uint32_t n, unsigned cls) {
  HZ_CHECK(n > 0 && n < (1u << 16) && (reinterpret_cast<uintptr_t>(last) >> 48) == 0, "batch header out of range");
  if (has_header(cls)) header_word(first) = (reinterpret_cast<uintptr_t>(last) | (uint64_t{n} << 48)) ^ first->mask();
}
HZ_INLINE FreeBlock* batch_last(FreeBlock* first, unsigned cls) {
  if (!has_header(cls)) return first;
  uintptr_t last = (header_word(first) ^ first->mask()) & ((uint64_t{1} << 48) - 1);
  if (kHardened && HZ_UNLIKELY(arena_offset(reinterpret_cast<void*>(last)) >= pagemap_size()))
    heap_corruption("a free list's batch header was overwritten", first);
  return reinterpret_cast<FreeBlock*>(last);
}
HZ_INLINE uint32_t batch_count(FreeBlock* first, unsigned cls) {
  return has_header(cls) ? static_cast<uint32_t>((header_word(first) ^ first->mask()) >> 48) : 1;
}

// kSpanHole: a free span whose data is unmapped, its memory and address space
// given back, until it is mapped again (arena.cpp, punch_holes, refill_holes).
enum : uint8_t { kSpanUntouched = 0, kSpanFree = 1, kSpanInUse = 2, kSpanHole = 3 };

struct RunMeta;
// Pages [lo, hi) counted from a span's first page; lo == hi: none.
struct PageRange {
  uint32_t lo, hi;
};
// A small run's part in the page-level remote lane (HZ_REMOTE_LITE,
// remote/run_remote.h), accessed atomically through std::atomic_ref. Other
// builds hold an empty type here that takes no bytes.
struct RunRemote {
  uintptr_t list;  // remote frees: first block | count << 48, linked through next; 0 when empty
  RunMeta* next;   // link on the owner's run queue
  uint8_t queued;  // 1 from the notify that queued the run until its owner takes the list
};
struct NoRunRemote {};
static_assert(kRunMetaSeparate, "RunMeta lives in g_arena.meta, apart from the pages: there is no other layout");

// Metadata of a span, kept apart from the data pages. Valid at a span's first
// page; its last page repeats state and npages so that a neighbour being freed
// can find the span's start.
struct RunMeta {
  FreeBlock* free_list;  // small run: its free blocks sorted home by reclaim
  FreeBlock* free_tail;  // ... and the last of them
  RunMeta* next;         // free span: page-heap list; small run: its shard's partial list
  RunMeta* prev;
  union {
    RunMeta* touched;    // small run: reclaim's list of runs touched in one pass
    PageRange dirty;     // free span: the pages that may be non-zero and resident
  };                     //   (one range: a merge keeps the hull of its parts')
  uint32_t npages;
  uint32_t nfree;     // small run: blocks on free_list (under the owner's OwnerExcl)
  uint32_t carved;    // small run: blocks carved from the run so far
  uint32_t since_ms;  // free span: when it became dirty (decay clock)
  uint8_t cls;
  uint8_t owner;
  uint8_t state;
  uint8_t partial;    // small run: on its shard's partial list
  uint8_t in_pass;    // small run: on the touched list of the current pass
  uint8_t hole_listed;  // hole: on the hole list (a stale "hole" state inside a span is not)
  uint8_t grew_up;      // free span: its last merge added pages above its dirty ones (the bound cuts below)
  uint8_t punched;      // hole: ours, unmapped by punch (0: a range the program took, add_top)
  [[no_unique_address]] std::conditional_t<kRemoteLite, RunRemote, NoRunRemote> remote;
};

// The reservation grows in place (pages, tags and meta each extended at their
// end), so base, tags and meta never move and are read without locks; npages
// and g_pagemap.size change by release stores under the page-heap lock. Under
// RLIMIT_AS they also shrink (free data at the end is unmapped), but tags and
// meta stay mapped and open: a reader holding an older, larger size still
// reads them. Tags and meta are opened with the data (reserve.cpp).
struct ArenaState {
  RunMeta* meta = nullptr;  // one per page
  size_t npages = 0;        // reserved pages
};
extern ArenaState g_arena;

namespace arena {

// Reserves the arena (once, from the first allocation): all of it, or under
// RLIMIT_AS a part of the room left. Returns false if no address space could
// be had at all.
bool init();

HZ_INLINE size_t page_of(const void* p) { return arena_offset(p) >> kPageShift; }
HZ_INLINE void* page_addr(size_t page) { return reinterpret_cast<void*>(g_pagemap.base + (page << kPageShift)); }
HZ_INLINE RunMeta* meta_of(size_t page) { return &g_arena.meta[page]; }
HZ_INLINE size_t page_of(const RunMeta* m) { return static_cast<size_t>(m - g_arena.meta); }

// A span of npages whose first page is aligned to align_pages (a power of
// two). *dirty: the pages that may not be zero (the others are fresh from the
// OS or purged).
RunMeta* alloc_span_dirty(size_t npages, size_t align_pages, PageRange* dirty);
// The most pages ever mapped (in use and dirty free), read without the lock.
size_t mapped_peak_pages();
// ... *zeroed: whether all of it is known to be zero.
inline RunMeta* alloc_span(size_t npages, size_t align_pages, bool* zeroed) {
  PageRange d;
  RunMeta* m = alloc_span_dirty(npages, align_pages, &d);
  if (zeroed) *zeroed = d.lo == d.hi;
  return m;
}
// Gives a span back; spans of kPurgeOnFreeBytes or more are purged at once,
// unless keep (a large block's span, with large keep on: arena/keep.h) keeps
// them dirty for reuse within the bound (or as the spare, beyond it). Returns
// true when it stayed dirty and the large spans kept dirty now reach
// kLargeKeepPurgerBytes: then even a single-threaded process needs the purger
// (only the decay returns them while the program idles).
// idle_ms: the span's memory was idle this long already (its decay clock
// starts that much earlier). purge: purged at once, whatever its size.
bool free_span(RunMeta* m, bool keep = false, uint32_t idle_ms = 0, bool purge = false);
// Grows the span m (in use) to npages in place, from the free span right
// after it or fresh pages when it ends at the top: realloc of a large block
// then copies nothing, and leaves no freed copy dirty behind it (a buffer
// grown step by step held its old copies too, until the decay). The pages
// added are not zeroed. False when they are not free.
bool grow_in_place(RunMeta* m, size_t npages);
// Splits the span m (in use) after its first npages: the rest becomes a
// span in use of its own (returned, for free_span), so that realloc shrinks a
// large block without a copy and gives its tail back. nullptr if npages is 0
// or not below m's size.
RunMeta* split_span(RunMeta* m, size_t npages);
// Purges dirty free spans that have been idle for at least min_age_ms
// (0: all of them); under RLIMIT_AS also unmaps such a span at the end of the
// reservation, and free spans of 1 MiB or more idle as long anywhere
// (holes). Returns bytes purged.
size_t purge(uint32_t now_ms, uint32_t min_age_ms);
// The program set RLIMIT_AS (setrlimit, prlimit): the reservation fits it
// now (fit_limit in reserve.cpp), unless the heap stays busy for 100 ms,
// then at its next growth or decay pass.
void limit_changed();
// RLIMIT_AS as the reservation last fitted it (os::kUnlimited if none), with
// no system call: a free or a realloc must not pay a getrlimit each (a
// sandbox's filter saw thousands); a limit set without setrlimit/prlimit is
// seen at the next growth or decay pass (fit_limit).
size_t limit_seen();
// Under RLIMIT_AS, with the heap's range at 1/kTightLimitShare (half) of the limit
// or more (read without the lock, no system call): the slow paths that leave
// memory idle reclaim and unmap at once (budget.cpp, limit_pass).
bool limit_tight();
// Under RLIMIT_AS, once free spans hold more than 1/kRlimitKeepShare of the
// limit: unmaps those of 1 MiB or more, however recently freed (the
// program's own mmap or a thread's stack may need the space now). Returns
// pages unmapped.
size_t unmap_for_limit(uint32_t now_ms);
// Pages the arena may still hand out (below its limit, free or fresh, counting
// what the reservation could still grow by under RLIMIT_AS).
size_t pages_available();
// False when a span of npages could not fit even in an empty arena (beyond
// its limit, or beyond what the reservation can grow to now).
bool might_fit(size_t npages);

// Fork support: the page-heap lock.
void lock();
void unlock();
void reset_lock();
// In a fork child: the spans other threads were purging outside the lock go
// back on the lists (at once when the fork took the locks, else at the next
// purge or wait_purges).
void fork_child(bool locked);
// Waits (at most 200 ms) until no other thread is purging spans outside the
// lock, so that their pages are on the lists again. For the exhaustion path:
// a request must not fail while the pages it needs are out being purged.
void wait_purges();

struct Usage {
  size_t in_use_bytes, dirty_free_bytes, mapped_bytes, mapped_peak_bytes, reserved_bytes;
  size_t free_bytes;  // listed free spans, dirty or not
};
Usage usage();

}  // namespace arena
}  // namespace hz
