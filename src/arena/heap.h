// The page heap's state, shared by the three files that make it up:
// arena.cpp, the free spans' lists and the spans handed out; reserve.cpp,
// the reservation they live in, its growth, holes and shrink; purge.cpp, the
// purge of free spans' dirty pages (outside the lock where it is long) and
// the fork child's care of spans out being purged. Internal to src/arena/.
// Unless a comment says otherwise, everything here runs under g_heap.lock.
#pragma once
#include "arena/arena.h"

namespace hz {
namespace arena {

// Free spans of 1..kExact pages sit on exact lists; longer ones on one list
// searched best-fit (they are few).
inline constexpr size_t kExact = 256;
// Free spans are readable and writable but in the hardened build, where a
// freed large span is closed and every span is opened as it is handed out.
inline constexpr bool kFreeSpansOpen = !kHardened;

struct Heap {
  SpinLock lock;
  RunMeta* exact[kExact + 1] = {};
  uint64_t nonempty[(kExact + 1 + 63) / 64] = {};
  RunMeta* big = nullptr;
  size_t top = 0;        // pages below top have been handed out at least once
  size_t limit = 0;      // pages the arena may use
  size_t in_use = 0;     // pages in spans in use
  size_t dirty_free = 0; // dirty pages of free spans
  size_t dirty_big = 0;  // ... of those on the big list (bounded by keep::limit_pages)
  size_t free_pages = 0; // pages in free spans
  size_t purging = 0;    // pages of free spans out of the lists while being purged
  // Those spans, linked through next/prev, each with its purging thread's
  // token (the address of its t_purge_token) in free_list and the fork
  // generation it was linked in in free_tail: a fork child puts back those of
  // threads it does not have (purging_relist).
  RunMeta* purging_list = nullptr;
  bool relist_in_child = false;  // set by a child forked without the lock
  const void* fork_token = nullptr;  // in a fork child: the forking thread's token
  uint32_t fork_gen = 0;             // forks this process descends from (purging_relist)
  uint32_t fork_chain = 0;  // the generation since which every fork was made by fork_token's thread
  size_t mapped_peak = 0;
  // Large keep: the free span outside the bound (keep::AtFree::kSpare), on
  // the big list; null when none. A merge carries it to the merged span.
  RunMeta* spare = nullptr;
  uint32_t spare_gen = 0, spare_seen = 0;  // spares set; the purger's last look (spare_tick)
};
extern Heap g_heap;

inline constexpr PageRange kClean{0, 0};
inline size_t count(PageRange r) { return r.hi - r.lo; }
// r, of a span starting at page from, seen from the span [to, to + n).
inline PageRange rebase(PageRange r, size_t from, size_t to, size_t n) {
  if (r.hi == r.lo) return kClean;
  size_t lo = from + r.lo, hi = from + r.hi;
  if (lo < to) lo = to;
  if (hi > to + n) hi = to + n;
  if (hi <= lo) return kClean;
  return {static_cast<uint32_t>(lo - to), static_cast<uint32_t>(hi - to)};
}
// Pages of r inside [at, at + n).
inline size_t overlap(PageRange r, size_t at, size_t n) {
  size_t lo = r.lo > at ? r.lo : at, hi = r.hi < at + n ? r.hi : at + n;
  return hi > lo ? hi - lo : 0;
}
inline PageRange hull(PageRange a, PageRange b) {
  if (a.hi == a.lo) return b;
  if (b.hi == b.lo) return a;
  return {a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}

// ---- the free lists (arena.cpp) ----
void set_span(size_t page, size_t n, uint8_t state);
void list_insert(RunMeta* m);
void list_remove(RunMeta* m);
void put_free(size_t page, size_t n, PageRange dirty, uint32_t since);
size_t insert_free(size_t page, size_t n, PageRange dirty, uint32_t since);
RunMeta* find_free(size_t n);
// Large keep: the spare's dirty pages (held outside the bound).
size_t spare_pages();
void note_peak();

// ---- the reservation (reserve.cpp) ----
extern size_t g_holes;         // free spans whose data is unmapped
void hole_promote(RunMeta* m);  // a hole a neighbour's free may let serve more: looked at first
// Pages top could reach (with_refusal: not what was just refused).
size_t reachable(bool with_refusal);
bool grow_top(size_t n);
bool grow(size_t n);
size_t punch(RunMeta* m);
size_t shrink_tail(uint32_t now_ms, uint32_t min_age_ms, size_t at_or_below = ~size_t{0});
// RLIMIT_AS set or lowered since the reservation last fitted it: the data
// reserved past top and the side arrays past what is open go back, so that
// the program's own mappings (thread stacks, mmap) are measured against the
// limit with ours at their real size (a program that set 256 MiB after its
// first malloc could neither mmap nor start a thread, and its mallocs went
// on to 1 GiB); growth is measured against the room from then on.
void fit_limit();
// Under RLIMIT_AS, free spans of kUnmapMinPages or more idle for min_age_ms
// are unmapped (holes, mapped back when the heap needs them): their address
// space serves the program's own mappings once it has freed its blocks,
// wherever they lay (350 MiB of small blocks freed, then trimmed or left to
// the decay: 1 of 8 threads could start, a 32 MiB mmap failed; glibc gave
// its heap top back). From purge (the decay, malloc_trim). Returns pages.
constexpr size_t kUnmapMinPages = 256;  // 1 MiB: 64 KiB pieces between live runs piled up as holes
size_t unmap_idle(uint32_t now_ms, uint32_t min_age_ms);

// ---- large keep: the bound (keep.h) ----
// Dirty pages over the bound are purged oldest first, outside the lock: their
// span leaves the lists meanwhile, marked in use so that no merge reaches it.
struct Evict {
  size_t page, n;
  PageRange keep, cut;  // dirty pages that stay, and those purged
  uint32_t since;
};
constexpr unsigned kEvictMax = 8;

// ---- the purge (purge.cpp) ----
// Dirty pages counted against the bound: those of the big list but the spare's.
size_t dirty_bounded();
unsigned take_over_bound(size_t limit, Evict* out, unsigned max = kEvictMax);
// HZ_KEEP_UNDER_PEAK: after a span of npages was placed or grown (to
// npages), if it is over kExact pages, kept dirty pages that would make the
// mapped total pass peak (the mapped peak before it) are taken to be purged,
// oldest first, into ev (at most max): what the program uses may raise the
// peak, what we keep for it may not.
unsigned hold_peak(size_t peak, size_t npages, Evict* ev, unsigned max);
unsigned spare_after_placement(bool in_spare, bool large, size_t reused, size_t npages, size_t spare_dirty,
                               RunMeta* a, RunMeta* b, Evict* ev);
// Outside the lock: purges the evicted spans, then lists them again under it.
void purge_evicted(const Evict* ev, unsigned k);

}  // namespace arena
}  // namespace hz
