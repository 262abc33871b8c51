// The page heap: free spans on exact lists (1..kExact pages) and one big list
// searched best fit, merged with their neighbours as they are freed, each
// with the range of its pages that may be dirty and the clock of the decay;
// spans handed out (placed over dirty pages first, under large keep), grown
// in place, split and freed. The reservation is in reserve.cpp, the purge in
// purge.cpp (heap.h says what they share).
#include "arena/heap.h"

#include "arena/keep.h"
#include "check/hardened.h"
#include "os/os.h"
#include "stats/stats.h"
#include "track/memcheck.h"

namespace hz {

constinit PagemapState g_pagemap;
constinit ArenaState g_arena;

namespace arena {

constinit Heap g_heap;

void set_span(size_t page, size_t n, uint8_t state) {
  RunMeta* first = meta_of(page);
  first->state = state;
  first->npages = static_cast<uint32_t>(n);
  if (n > 1) {
    RunMeta* last = meta_of(page + n - 1);
    last->state = state;
    last->npages = static_cast<uint32_t>(n);
  }
}

namespace {
RunMeta** list_for(size_t n) { return n <= kExact ? &g_heap.exact[n] : &g_heap.big; }
}  // namespace

void list_insert(RunMeta* m) {
  RunMeta** head = list_for(m->npages);
  m->prev = nullptr;
  m->next = *head;
  if (*head) (*head)->prev = m;
  *head = m;
  if (m->npages <= kExact) g_heap.nonempty[m->npages / 64] |= uint64_t{1} << (m->npages % 64);
  g_heap.dirty_free += count(m->dirty);
  if (m->npages > kExact) g_heap.dirty_big += count(m->dirty);
  g_heap.free_pages += m->npages;
}

void list_remove(RunMeta* m) {
  if (m == g_heap.spare) g_heap.spare = nullptr;
  RunMeta** head = list_for(m->npages);
  if (m->prev) m->prev->next = m->next; else *head = m->next;
  if (m->next) m->next->prev = m->prev;
  if (m->npages <= kExact && *head == nullptr) g_heap.nonempty[m->npages / 64] &= ~(uint64_t{1} << (m->npages % 64));
  g_heap.dirty_free -= count(m->dirty);
  if (m->npages > kExact) g_heap.dirty_big -= count(m->dirty);
  g_heap.free_pages -= m->npages;
}

// Lists [page, page+n) as a free span as it is (its neighbours are not free).
void put_free(size_t page, size_t n, PageRange dirty, uint32_t since) {
  set_span(page, n, kSpanFree);
  meta_of(page)->dirty = dirty;
  meta_of(page)->since_ms = since;
  meta_of(page)->grew_up = 0;
  list_insert(meta_of(page));
}

// Inserts [page, page+n), dirty where dirty says (since: its decay clock),
// as a free span, merging with free neighbours. Returns the span's first page.
size_t insert_free(size_t page, size_t n, PageRange dirty, uint32_t since) {
  const size_t added = n;
  // A merged span keeps the decay clock of its oldest dirty part, so that
  // memory already idle is not held back by a neighbour freed just now.
  // Large keep: the parts' clocks weighted by their dirty pages instead, so
  // that a buffer freed just now is not purged with an old fragment beside
  // it, and a trickle of small frees still barely moves a big span's clock.
  const uint32_t now = os::now_ms();
  size_t weight = count(dirty);
  auto older = [&](const RunMeta* m) {
    size_t w = count(m->dirty);
    if (!w) return;
    if (keep::on() && weight) {
      uint64_t age = uint64_t{now - since} * weight + uint64_t{now - m->since_ms} * w;
      since = now - static_cast<uint32_t>(age / (weight + w));
    } else if (!weight || static_cast<int32_t>(since - m->since_ms) > 0) {
      since = m->since_ms;
    }
    weight += w;
  };
  bool up = false;     // merged into a free span below: the new part is on top
  bool carry = false;  // a neighbour was the spare: the merged span is
  if (page > 0) {
    RunMeta* left_last = meta_of(page - 1);
    if (left_last->state == kSpanFree) {
      size_t ln = left_last->npages;
      RunMeta* left = meta_of(page - ln);
      HZ_CHECK(left->state == kSpanFree && left->npages == ln, "page heap: left neighbour corrupt");
      carry |= left == g_heap.spare;
      list_remove(left);
      older(left);
      up = count(left->dirty) != 0;
      dirty = hull(left->dirty, rebase(dirty, page, page - ln, n + ln));
      page -= ln;
      n += ln;
    }
  }
  if (page + n < g_heap.top) {
    RunMeta* right = meta_of(page + n);
    if (right->state == kSpanFree) {
      size_t rn = right->npages;
      carry |= right == g_heap.spare;
      list_remove(right);
      older(right);
      dirty = hull(dirty, rebase(right->dirty, page + n, page, n + rn));
      n += rn;
    }
  }
  if (count(dirty) && n >= kArenaGrowPages && n - added < kArenaGrowPages) stats::add(stats::kReclaimSegments, 1);
  put_free(page, n, dirty, since);
  meta_of(page)->grew_up = up;
  if (carry) g_heap.spare = meta_of(page);
  if (kArenaHoles && g_holes) {  // a hole beside it may serve more now: refill_holes looks there first
    if (page > 0 && meta_of(page - 1)->state == kSpanHole) hole_promote(meta_of(page - meta_of(page - 1)->npages));
    if (page + n < g_heap.top && meta_of(page + n)->state == kSpanHole) hole_promote(meta_of(page + n));
  }
  return page;
}

RunMeta* find_free(size_t n) {
  if (n <= kExact) {
    for (size_t w = n / 64; w < sizeof g_heap.nonempty / sizeof g_heap.nonempty[0]; ++w) {
      uint64_t bits = g_heap.nonempty[w];
      if (w == n / 64) bits &= ~uint64_t{0} << (n % 64);
      if (bits) return g_heap.exact[w * 64 + static_cast<size_t>(__builtin_ctzll(bits))];
    }
  }
  // Best fit; large keep: the span whose dirty pages cover most of the
  // request first (alloc_span places it over them), so kept pages are reused
  // before fresh ones are faulted in.
  const bool by_dirty = n > kExact && keep::on();
  RunMeta* best = nullptr;
  size_t best_reuse = 0;
  // A large span takes the free span that ends at the top last: placed
  // there (at its end, place_span), a buffer can grow in place only by
  // moving the top up, and a program that keeps one near 5 MB by realloc and
  // substr (perl) moved it up at every round, the pages below left free for
  // good (18 GB of top, 130 MB of page tags and run records resident).
  RunMeta* at_top = nullptr;
  for (RunMeta* m = g_heap.big; m; m = m->next) {
    if (m->npages < n) continue;
    if (n > kExact && page_of(m) + m->npages == g_heap.top) {
      at_top = m;
      continue;
    }
    size_t reuse = by_dirty ? count(m->dirty) : 0;
    if (reuse > n) reuse = n;
    bool better = !best || reuse > best_reuse;
    if (!better && reuse == best_reuse) {  // best fit: of the dirty pages (by_dirty), then of the span
      size_t d = by_dirty ? count(m->dirty) : 0, bd = by_dirty ? count(best->dirty) : 0;
      better = d < bd || (d == bd && m->npages < best->npages);
    }
    if (better) best = m, best_reuse = reuse;
  }
  return best ? best : at_top;
}

// Large keep: the spare's dirty pages (held outside the bound).
size_t spare_pages() { return g_heap.spare ? count(g_heap.spare->dirty) : 0; }

// The peak the bound is a share of: without the spare, which would raise the
// bound it is held beyond (and with it what is kept: a loop).
void note_peak() {
  size_t mapped = g_heap.in_use + g_heap.dirty_free - spare_pages();
  if (mapped > g_heap.mapped_peak) __atomic_store_n(&g_heap.mapped_peak, mapped, __ATOMIC_RELAXED);  // free_span reads it unlocked
}

namespace {
// alloc_span_dirty under the heap lock; *k: spans evicted, for the caller to
// purge outside it.
RunMeta* place_span(size_t npages, size_t align_pages, PageRange* dirty, Evict* ev, unsigned* k) {
  size_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
  const size_t peak = g_heap.mapped_peak;
  RunMeta* m = find_free(need);
  if (!m) {
    if (!grow(need)) return nullptr;
    m = find_free(need);
    if (!m) return nullptr;
  }
  const bool in_spare = m == g_heap.spare;
  list_remove(m);
  size_t page = page_of(m), n = m->npages;
  const PageRange d = m->dirty;
  const uint32_t since = m->since_ms;
  // Where in the span: aligned; or, large keep, over its dirty pages (reused
  // rather than left dirty while fresh ones fault in).
  size_t at = page;
  if (align_pages > 1) {
    size_t abs = (g_pagemap.base >> kPageShift) + page;
    at = page + ((align_pages - (abs & (align_pages - 1))) & (align_pages - 1));
  } else if (keep::on() && n > npages) {
    if (count(d)) at = page + (d.lo < n - npages ? d.lo : n - npages);
    // A large span goes to the end of the free span, unless that reuses
    // fewer of its dirty pages: what is left lies below it, where the runs
    // carved next are placed, and a span that ends at top, once freed,
    // merges with what top grows by next, so a larger buffer after it is
    // placed over its pages (a linker's growing buffers: ld's peak 26.3 ->
    // 24.0 MB, docs/boxes.md "Large keep").
    if (npages > kExact && overlap(d, n - npages, npages) >= overlap(d, at - page, npages))
      at = page + n - npages;
  }
  RunMeta *below = nullptr, *above = nullptr;
  if (at > page) put_free(page, at - page, rebase(d, page, page, at - page), since), below = meta_of(page);
  size_t end = at + npages;
  if (page + n > end) put_free(end, page + n - end, rebase(d, page, end, page + n - end), since), above = meta_of(end);
  set_span(at, npages, kSpanInUse);
  const PageRange mine = rebase(d, page, at, npages);
  g_heap.in_use += npages;
  *k = spare_after_placement(in_spare, npages > kExact, count(mine), npages, count(d), below, above, ev);
  *k += hold_peak(peak, npages, ev + *k, kEvictMax - *k);
  note_peak();
  if constexpr (kHardened) {
    if (!hardened::open_span(page_addr(at), npages << kPageShift)) {  // too many mappings
      g_heap.in_use -= npages;
      insert_free(at, npages, mine, since);
      return nullptr;
    }
  }
  if (dirty) *dirty = mine;
  if (HZ_UNLIKELY(track::active())) track::on_span(page_addr(at), npages << kPageShift);
  return meta_of(at);
}
}  // namespace

RunMeta* alloc_span_dirty(size_t npages, size_t align_pages, PageRange* dirty) {
  Evict ev[kEvictMax];
  unsigned k = 0;
  RunMeta* m;
  {
    LockGuard g(g_heap.lock);
    m = place_span(npages, align_pages, dirty, ev, &k);
  }
  if (k) purge_evicted(ev, k);
  return m;
}

namespace {
bool grow_span(RunMeta* m, size_t npages, Evict* ev, unsigned* k) {
  HZ_CHECK(m->state == kSpanInUse, "page heap: growing a span not in use");
  const size_t page = page_of(m), n = m->npages, end = page + n;
  if (npages <= n) return npages == n;
  const size_t need = npages - n;
  const size_t peak = g_heap.mapped_peak;
  auto free_at_end = [&]() -> size_t {
    return end < g_heap.top && meta_of(end)->state == kSpanFree ? meta_of(end)->npages : 0;
  };
  size_t free_after = free_at_end();
  // Too few free pages up to the top: fresh ones join them (grow_top merges
  // a free span ending at the top with the new chunk). grow() may instead
  // have mapped holes back elsewhere, or left the top where it was: what
  // follows the span is looked at again, never assumed (under RLIMIT_AS a
  // block was grown over whatever meta_of(top) held: a crash in put_free).
  if (free_after < need && end + free_after == g_heap.top && (grow_top(need) || grow(need))) free_after = free_at_end();
  if (free_after < need) return false;
  RunMeta* right = meta_of(end);
  const size_t rn = right->npages;
  const PageRange d = right->dirty;
  const uint32_t since = right->since_ms;
  const bool in_spare = right == g_heap.spare;
  list_remove(right);
  RunMeta* rest = nullptr;
  if (rn > need) put_free(end + need, rn - need, rebase(d, end, end + need, rn - need), since), rest = meta_of(end + need);
  set_span(page, npages, kSpanInUse);
  g_heap.in_use += need;
  *k = spare_after_placement(in_spare, true, overlap(d, 0, need), need, count(d), rest, nullptr, ev);
  *k += hold_peak(peak, npages, ev + *k, kEvictMax - *k);
  note_peak();
  return true;
}
}  // namespace

bool grow_in_place(RunMeta* m, size_t npages) {
  Evict ev[kEvictMax];
  unsigned k = 0;
  bool grown;
  {
    LockGuard g(g_heap.lock);
    grown = grow_span(m, npages, ev, &k);
  }
  if (k) purge_evicted(ev, k);
  return grown;
}

RunMeta* split_span(RunMeta* m, size_t npages) {
  LockGuard g(g_heap.lock);
  HZ_CHECK(m->state == kSpanInUse, "page heap: splitting a span not in use");
  const size_t page = page_of(m), n = m->npages;
  if (npages == 0 || npages >= n) return nullptr;
  set_span(page, npages, kSpanInUse);
  set_span(page + npages, n - npages, kSpanInUse);
  return meta_of(page + npages);
}

bool free_span(RunMeta* m, bool keep_it, uint32_t idle_ms, bool purge) {
  size_t page = page_of(m), n = m->npages;
  HZ_CHECK(m->state == kSpanInUse, "page heap: freeing a span not in use");
  const bool keep = keep_it && keep::on();
  const size_t peak = __atomic_load_n(&g_heap.mapped_peak, __ATOMIC_RELAXED);
  const size_t limit = keep ? keep::limit_pages(peak) : 0;
  // A large block's span (keep_it; purge: the old copy of one realloc moved).
  const size_t as_limit = keep_it || purge ? limit_seen() : os::kUnlimited;
  const bool under_rlimit = as_limit != os::kUnlimited;
  bool as_keep = false;
  if (under_rlimit && kRlimitKeepShare) {
    LockGuard g(g_heap.lock);
    as_keep = (g_heap.dirty_free + n) << kPageShift <= as_limit / kRlimitKeepShare;
  }
  const keep::AtFree fate = purge ? keep::AtFree::kPurge
                                  : keep::at_free(n, keep, keep ? keep::span_limit_pages(peak) : 0, under_rlimit && !as_keep);
  const bool purge_now = fate == keep::AtFree::kPurge;
  if (purge_now) {
    os::purge(page_addr(page), n << kPageShift, kFreeSpansOpen);  // outside the lock: syscalls are slow
    stats::add(stats::kPurgedBytes, n << kPageShift);
  }
  Evict ev[kEvictMax];
  unsigned k = 0;
  size_t kept = 0;
  {
    LockGuard g(g_heap.lock);
    g_heap.in_use -= n;
    size_t start = insert_free(page, n, purge_now ? kClean : PageRange{0, static_cast<uint32_t>(n)}, os::now_ms() - idle_ms);
    // Purged already: its address space need not wait for the decay either
    // (which may not run again: no dirty memory is left to wake it).
    if (purge_now) shrink_tail(0, 0, page);
    // And under RLIMIT_AS a large block's span gives its address space back
    // wherever it lies, as glibc's mapped chunks do: a small block carved
    // after it must not keep the program from mapping what it freed.
    if (kArenaHoles && under_rlimit && purge_now) punch(meta_of(start));
    // The last span over the bound is the spare (an earlier one, not merged
    // with it, counts against the bound again).
    if (fate == keep::AtFree::kSpare) g_heap.spare = meta_of(start), ++g_heap.spare_gen, stats::add(stats::kKeepSpare, 1);
    if (keep && dirty_bounded() > limit) k = take_over_bound(limit, ev);
    note_peak();  // after the eviction: an old spare over the bound would raise it
    kept = g_heap.dirty_big;
  }
  if (k) purge_evicted(ev, k);
  return keep && !purge_now && (kept << kPageShift) >= kLargeKeepPurgerBytes;
}

void lock() { g_heap.lock.lock(); }
void unlock() { g_heap.lock.unlock(); }
void reset_lock() { g_heap.lock.reset(); }

size_t mapped_peak_pages() { return __atomic_load_n(&g_heap.mapped_peak, __ATOMIC_RELAXED); }

Usage usage() {
  LockGuard g(g_heap.lock);
  Usage u;
  u.in_use_bytes = g_heap.in_use << kPageShift;
  u.dirty_free_bytes = g_heap.dirty_free << kPageShift;
  u.mapped_bytes = u.in_use_bytes + u.dirty_free_bytes;
  u.mapped_peak_bytes = g_heap.mapped_peak << kPageShift;
  u.reserved_bytes = g_arena.npages << kPageShift;
  u.free_bytes = g_heap.free_pages << kPageShift;
  return u;
}

}  // namespace arena
}  // namespace hz
