#include "large/large.h"

#include <errno.h>
#include <string.h>

#include "arena/arena.h"
#include "budget/budget.h"
#include "check/hardened.h"
#include "options/options.h"
#include "os/os.h"
#include "size_class/size_class.h"
#include "stats/stats.h"
#include "track/memcheck.h"

namespace hz::large {
namespace {
constinit size_t g_backable = 0;  // RAM + swap, read once
// Sizes from which a request is checked against RAM + swap: what no machine
// here could back is refused, rather than address space handed out that
// faults later. Only for such sizes: sysinfo is a system call glibc's malloc
// never makes, and a sandbox's filter may kill for it.
constexpr size_t kBackableCheckBytes = size_t{1} << 30;
bool backable(size_t size) {
  if (size < kBackableCheckBytes) return true;
  if (HZ_UNLIKELY(g_backable == 0)) g_backable = os::backable_bytes();
  return size <= g_backable;
}
// Hardened build: an inaccessible page after every span catches an overflow
// that runs past its end.
constexpr size_t kGuardPages = kHardened ? 1 : 0;
// realloc gives back a tail of at least this many pages (and an eighth of
// the span): smaller ones are not worth the heap lock and a later regrowth.
constexpr size_t kShrinkMinPages = 16;
}

namespace {
// reclaim: run the exhaustion sequence when the page heap has no span (not
// for realloc's room, which has the exact size to fall back on). *room_dirty
// (if given): the pages from room_from on that may be resident.
void* alloc_span(size_t size, size_t align, bool zero, bool reclaim, size_t room_from = 0, PageRange* room_dirty = nullptr) {
  if (!backable(size)) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t npages = (size + kPageSize - 1) >> kPageShift;
  if (npages == 0) npages = 1;
  npages += kGuardPages;
  size_t align_pages = align > kPageSize ? align >> kPageShift : 1;
  // Could never fit, not even once the reservation has grown as far as the
  // arena's limit and RLIMIT_AS allow: skip the exhaustion sequence.
  if (!arena::might_fit(npages + align_pages - 1)) {
    errno = ENOMEM;
    return nullptr;
  }
  PageRange dirty{0, 0};
  RunMeta* m = arena::alloc_span_dirty(npages, align_pages, &dirty);
  for (bool patient : {false, true}) {
    if (m || !reclaim || !budget::on_exhaustion(npages + align_pages - 1, patient)) continue;
    m = arena::alloc_span_dirty(npages, align_pages, &dirty);
  }
  if (!m) {
    stats::add(stats::kAllocFailed, 1);
    errno = ENOMEM;
    return nullptr;
  }
  m->cls = kLargeClass;
  size_t page = arena::page_of(m);
  PageTag tag = make_tag(kLargeClass);
  __atomic_store(&g_pagemap.tags[page], &tag, __ATOMIC_RELEASE);
  stats::add(stats::kLargeAlloc, 1);
  void* p = arena::page_addr(page);
  if constexpr (kGuardPages > 0) {
    npages -= kGuardPages;
    if (!os::protect(arena::page_addr(page + npages), kGuardPages << kPageShift, false)) {
      g_pagemap.tags[page] = make_tag(kFreedClass);
      arena::free_span(m);
      errno = ENOMEM;
      return nullptr;
    }
  }
  if (HZ_UNLIKELY(stats::counting())) stats::span_alloc(p, npages << kPageShift, zero);  // before the memset (memcheck)
  // Only pages that may be dirty: the others are fresh from the OS or purged.
  if (zero && dirty.hi > dirty.lo && dirty.lo < npages) {
    size_t hi = dirty.hi < npages ? dirty.hi : npages;
    memset(arena::page_addr(page + dirty.lo), 0, (hi - dirty.lo) << kPageShift);
  }
  if (room_dirty) {
    const size_t lo = dirty.lo > room_from ? dirty.lo : room_from, hi = dirty.hi < npages ? dirty.hi : npages;
    *room_dirty = lo < hi ? PageRange{static_cast<uint32_t>(lo), static_cast<uint32_t>(hi)} : PageRange{0, 0};
  }
  return p;
}
}  // namespace

void* alloc(size_t size, size_t align, bool zero) { return alloc_span(size, align, zero, true); }

void free(void* p, bool moved) {
  size_t page = arena::page_of(p);
  RunMeta* m = arena::meta_of(page);
  if (HZ_UNLIKELY(stats::counting())) stats::span_free(p, (size_t{m->npages} - kGuardPages) << kPageShift);
  g_pagemap.tags[page] = make_tag(kFreedClass);  // a second free of p is a double free
  // Hardened: purged and inaccessible until the page heap hands it out again.
  if constexpr (kHardened) hardened::close_span(p, size_t{m->npages} << kPageShift);
  stats::add(stats::kLargeFree, 1);
  // Kept dirty for reuse (large keep): only the decay returns it, so past
  // kLargeKeepPurgerBytes kept a purger runs even in a single-threaded process.
  budget::note_idle_memory(arena::free_span(m, !moved, 0, moved));
}

void* alloc_moved(size_t old, size_t size) {
  size_t want = size;
  if constexpr (kReallocRoomPct != 0) {
    const size_t room = old / 100 * kReallocRoomPct;
    want = old + room > size ? old + room : size;
    if (want - size > (size_t{1} << 30)) want = size + (size_t{1} << 30);
    // Under a limit (the arena's, or RLIMIT_AS) the room counts against it
    // for the block's life, and rooms add up: an eighth of what was left,
    // per block, had realloc fail at 67% of HAKOZUNA_ARENA_SIZE=512M live,
    // the build before at 98%. None at all made each step of a buffer grown
    // by realloc a copy (perl's Storable under `ulimit -v 4G`: 2 381 moves,
    // 32 GB copied and purged, 4.5x glibc's time). So the room shrinks with
    // what is left (what the page heap could still hand out under the
    // limits): at most a sixteenth of it.
    if (options::get().arena_size_set || arena::limit_seen() != os::kUnlimited) {
      const size_t left = arena::pages_available() << kPageShift;
      if (want - size > left / 16) want = size + left / 16;
    }
  }
  if (want > size) {
    const int saved = errno;  // the room's refusal is not the caller's business
    const size_t used = (size + kPageSize - 1) >> kPageShift;
    PageRange dirty;
    if (void* q = alloc_span(want, kPageSize, false, false, used, &dirty)) {
      // Room placed over resident free pages would keep them for the block's
      // life (the decay would have returned them): it starts out purged.
      if (dirty.hi > dirty.lo) os::purge(static_cast<char*>(q) + (size_t{dirty.lo} << kPageShift), size_t{dirty.hi - dirty.lo} << kPageShift);
      stats::add(stats::kReallocRoom, 1);
      return q;
    }
    errno = saved;
  }
  return alloc(size, kPageSize, false);
}

void shrink_in_place(void* p, size_t size) {
  // Not with a guard page after the span (hardened: its own realloc), nor
  // under memcheck (its view of the block stays the old one).
  if (kHardened || track::active()) return;
  size_t page = arena::page_of(p);
  RunMeta* m = arena::meta_of(page);
  const size_t n = m->npages, keep = (size + kPageSize - 1) >> kPageShift;
  // Not a size the span may have been given room for (alloc_moved): that
  // is a buffer growing into its room.
  if (keep * (100 + kReallocRoomPct) >= n * 100 || n - keep < kShrinkMinPages || n - keep < n / 8) return;
  RunMeta* tail = arena::split_span(m, keep);
  if (!tail) return;
  tail->cls = kLargeClass;
  // No block ever started at the tail: a free of it is an invalid pointer,
  // not a double free (the freed tag said so).
  g_pagemap.tags[page + keep] = make_tag(0);
  if (HZ_UNLIKELY(stats::counting())) {  // the profile's live bytes: the old span out, the kept part in
    stats::span_free(p, n << kPageShift);
    stats::span_alloc(p, keep << kPageShift, false);
  }
  stats::add(stats::kReallocShrink, 1);
  budget::note_idle_memory(arena::free_span(tail, true));
}

bool grow_in_place(void* p, size_t size) {
  // Not where the span has a guard page after it (hardened: its own realloc),
  // nor under memcheck, which would see the added pages as never allocated.
  if (kHardened || track::active() || !backable(size)) return false;
  size_t page = arena::page_of(p);
  if (tag_class(tag_at(arena_offset(p))) != kLargeClass) return false;
  RunMeta* m = arena::meta_of(page);
  const size_t old = size_t{m->npages} << kPageShift;
  if (!arena::grow_in_place(m, (size + kPageSize - 1) >> kPageShift)) return false;
  if (HZ_UNLIKELY(stats::counting())) {  // the profile's live bytes: the old span out, the grown one in
    stats::span_free(p, old);
    stats::span_alloc(p, size_t{m->npages} << kPageShift, false);
  }
  return true;
}

size_t usable_size(const void* p) {
  return (size_t{arena::meta_of(arena::page_of(p))->npages} - kGuardPages) << kPageShift;
}

}  // namespace hz::large
