#include "arena/arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena/keep.h"
#include "check/hardened.h"
#include "options/options.h"
#include "os/os.h"
#include "stats/stats.h"
#include "track/memcheck.h"

namespace hz {

constinit PagemapState g_pagemap;
constinit ArenaState g_arena;

namespace arena {
namespace {

// Free spans of 1..kExact pages sit on exact lists; longer ones on one list
// searched best-fit (they are few).
constexpr size_t kExact = 256;
// Free spans are readable and writable but in the hardened build, where a
// freed large span is closed and every span is opened as it is handed out.
constexpr bool kFreeSpansOpen = !kHardened;

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
constinit Heap g_heap;

// ---- the reservation ----
constexpr size_t kAlign = size_t{2} << 20;  // data: huge pages possible, segment math simple
constexpr size_t kArenaReserveMemcheck = size_t{64} << 20;  // the first reservation under memcheck
constexpr size_t kGrain = size_t{64} << 10; // side arrays: any OS page size
constexpr size_t kGiB = size_t{1} << 30;
constexpr size_t kBytesPerPage = kPageSize + sizeof(uint32_t) + sizeof(RunMeta);

struct Reservation {
  size_t max_pages = 0;  // the regions were placed with room to grow to this
  // Bytes mapped of each side array. They may cover more than npages: a
  // shrink unmaps data only, since free() reads tags (and reclaim meta)
  // without the lock, possibly with a size loaded before the shrink.
  size_t tags_mapped = 0, meta_mapped = 0;
  // The last extension refused (at this size, this RLIMIT_AS and room): not
  // promised again by pages_available() while nothing got better.
  size_t refused_at = 0, refused_pages = 0, refused_limit = 0, refused_room = 0;
};
constinit Reservation g_res;

// Free spans whose data is unmapped (punch_holes, below), linked through
// next/prev (oldest last), and their count and pages.
RunMeta *g_hole_list = nullptr, *g_hole_tail = nullptr;
size_t g_holes = 0, g_hole_pages = 0;

// At the head, or at the tail (tried last by refill_holes).
void hole_link(RunMeta* m, bool at_tail = false) {
  HZ_CHECK(!m->hole_listed, "page heap: a hole linked twice");
  RunMeta*& end = at_tail ? g_hole_tail : g_hole_list;
  m->prev = at_tail ? end : nullptr;
  m->next = at_tail ? nullptr : end;
  if (end) (at_tail ? end->next : end->prev) = m; else g_hole_list = g_hole_tail = m;
  end = m;
  m->hole_listed = 1;
  ++g_holes;
  g_hole_pages += m->npages;
}
void hole_unlink(RunMeta* m) {
  HZ_CHECK(m->hole_listed, "page heap: unlinking a hole not on the hole list");
  if (m->prev) m->prev->next = m->next; else g_hole_list = m->next;
  if (m->next) m->next->prev = m->prev; else g_hole_tail = m->prev;
  m->hole_listed = 0;
  --g_holes;
  g_hole_pages -= m->npages;
}
// m: a page record that reads as a hole's first. Only a hole on the list
// moves: a record inside a span can still read "hole" from before the span
// took it (one past top, during add_top, read so and broke the list).
void hole_promote(RunMeta* m) {
  if (!m->hole_listed || m == g_hole_list) return;
  hole_unlink(m);
  hole_link(m);
}

// Chunks past top that an extension found taken: under RLIMIT_AS a shrink
// gives the range past top back, and the program may map something there
// (its own mmap, placed by the kernel in the gap). They become holes as top
// passes them (add_top), so the arena grows around them instead of failing
// for good. Page ranges, ascending; an extension that would need more stops
// short, and the next one (once top has passed these) goes on.
struct Taken {
  size_t lo, hi;
};
constexpr unsigned kTakenMax = 16;
Taken g_taken[kTakenMax];
unsigned g_ntaken = 0;

// The most pages top may reach: the limit counts memory (holes have none),
// and the regions were placed with room for max_pages.
size_t top_cap() {
  size_t cap = g_heap.limit + g_hole_pages;
  return cap < g_res.max_pages ? cap : g_res.max_pages;
}

size_t round_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
size_t tags_bytes(size_t pages) { return round_up(pages * sizeof(PageTag), kGrain); }
size_t meta_bytes(size_t pages) { return round_up(pages * sizeof(RunMeta), kGrain); }
// Most pages (whole grow chunks) whose data and side arrays fit in bytes.
size_t pages_for(size_t bytes) {
  if (bytes <= 2 * kGrain) return 0;
  return (bytes - 2 * kGrain) / kBytesPerPage / kArenaGrowPages * kArenaGrowPages;
}
// Most pages (whole grow chunks) the reservation can grow by from cur pages
// with bytes of new mappings: where the side arrays are mapped already (left
// by a shrink), a page costs its data only.
size_t pages_for_growth(size_t cur, size_t bytes) {
  size_t covered = g_res.tags_mapped / sizeof(uint32_t);
  if (g_res.meta_mapped / sizeof(RunMeta) < covered) covered = g_res.meta_mapped / sizeof(RunMeta);
  size_t cheap = covered > cur ? covered - cur : 0;
  size_t more = bytes >> kPageShift;
  if (more > cheap) more = cheap + pages_for(bytes - (cheap << kPageShift));
  return more / kArenaGrowPages * kArenaGrowPages;
}

// "hakozuna: arena <what><bytes>[ (limit <bytes>)]" on stderr, without allocating.
void say(const char* what, size_t bytes, size_t limit) {
  char buf[128];
  size_t n = 0;
  auto put = [&](const char* t) {
    while (*t && n + 2 < sizeof buf) buf[n++] = *t++;
  };
  auto num = [&](size_t v) {
    char d[24];
    size_t k = format_u64(d, v);
    for (size_t i = 0; i < k && n + 2 < sizeof buf; ++i) buf[n++] = d[i];
  };
  put("hakozuna: arena "), put(what), num(bytes);
  if (limit) put(" (limit "), num(limit), put(")");
  buf[n++] = '\n';
  buf[n] = 0;
  write_stderr(buf);
}

// Spots for the data region and the two side arrays, each with room after it
// for the largest arena, at a random place in [kArenaHintLow, kArenaHintHigh).
struct Hints {
  void* data = nullptr;
  void* tags = nullptr;
  void* meta = nullptr;
};
Hints pick_hints(size_t max_pages) {
  size_t data_span = round_up(max_pages << kPageShift, kGiB) + kGiB;  // a gap between regions
  size_t tags_span = round_up(max_pages * sizeof(PageTag), kGiB) + kGiB;
  size_t total = data_span + tags_span + round_up(max_pages * sizeof(RunMeta), kGiB);
  if (total >= kArenaHintHigh - kArenaHintLow) return {};
  uintptr_t base = kArenaHintLow + (os::random_u64() % ((kArenaHintHigh - kArenaHintLow - total) / kAlign)) * kAlign;
  return {reinterpret_cast<void*>(base), reinterpret_cast<void*>(base + data_span),
          reinterpret_cast<void*>(base + data_span + tags_span)};
}

// Maps the data pages [cur, target) of the reservation; where the range is
// taken in part, the free grow chunks, and notes the taken ones (g_taken).
// Returns the end reached: target, or less where it ran out of notes or
// was refused (cur: nothing mapped).
size_t map_data(size_t cur, size_t target) {
  char* data = reinterpret_cast<char*>(g_pagemap.base);
  if (os::reserve_at(data + (cur << kPageShift), (target - cur) << kPageShift, false)) return target;
  if (errno != EEXIST) return cur;
  size_t c = cur;
  for (; c < target; c += kArenaGrowPages) {
    const size_t end = c + kArenaGrowPages < target ? c + kArenaGrowPages : target;
    if (os::reserve_at(data + (c << kPageShift), (end - c) << kPageShift, false)) continue;
    if (errno != EEXIST) break;
    if (g_ntaken > 0 && g_taken[g_ntaken - 1].hi == c) {
      g_taken[g_ntaken - 1].hi = end;
    } else {
      if (g_ntaken == kTakenMax) break;
      g_taken[g_ntaken++] = {c, end};
    }
  }
  return c < target ? c : target;
}

// Extends the three regions in place to target pages (each side array only
// past what is mapped of it already); all or nothing.
bool try_extend(size_t target) {
  size_t cur = g_arena.npages;
  if (target <= cur) return true;
  char* data = reinterpret_cast<char*>(g_pagemap.base);
  char* tags = reinterpret_cast<char*>(g_pagemap.tags);
  char* meta = reinterpret_cast<char*>(g_arena.meta);
  size_t t0 = g_res.tags_mapped, t1 = tags_bytes(target), m0 = g_res.meta_mapped, m1 = meta_bytes(target);
  bool t_ok = t1 <= t0 || os::reserve_at(tags + t0, t1 - t0);
  bool m_ok = t_ok && (m1 <= m0 || os::reserve_at(meta + m0, m1 - m0));
  if (m_ok) target = map_data(cur, target);
  bool d_ok = m_ok && target > cur;
  if (!d_ok) {
    if (m_ok && m1 > m0) os::release(meta + m0, m1 - m0);
    if (t_ok && t1 > t0) os::release(tags + t0, t1 - t0);
    return false;
  }
  if (t1 > t0) g_res.tags_mapped = t1;
  if (m1 > m0) g_res.meta_mapped = m1;
  // (Not over ranges the program took: its mappings are not ours to advise.)
  if (options::get().hugepages && g_ntaken == 0) os::advise_hugepages(data + (cur << kPageShift), (target - cur) << kPageShift);
  // Side arrays first, size last: a reader that sees the new size finds them mapped.
  __atomic_store_n(&g_arena.npages, target, __ATOMIC_RELEASE);
  __atomic_store_n(&g_pagemap.size, target << kPageShift, __ATOMIC_RELEASE);
  if (options::get().verbose) say("grew to ", target << kPageShift, 0);
  return true;
}

// Grows the reservation to at least least pages, preferably to want or twice
// its size: a doubling may take at most half of the room RLIMIT_AS leaves,
// the program needs the rest for its own mappings.
bool extend(size_t want, size_t least) {
  size_t cur = g_arena.npages;
  size_t cap = round_up(top_cap(), kArenaGrowPages);
  if (cap > g_res.max_pages) cap = g_res.max_pages;
  least = round_up(least, kArenaGrowPages);
  if (least > cap) return false;
  size_t target = want > 2 * cur ? want : 2 * cur;
  target = round_up(target, kArenaGrowPages);
  if (target > cap) target = cap;
  os::AddressSpace as = os::address_space();
  if (as.room != os::kUnlimited) {
    size_t afford = cur + pages_for_growth(cur, as.room / 2);
    if (target > afford) target = afford;
  }
  if (target < least) target = least;
  if (try_extend(target) || (target > least && try_extend(least))) return true;
  g_res.refused_at = cur;
  g_res.refused_pages = least - cur;
  g_res.refused_limit = as.limit;
  g_res.refused_room = as.room;
  return false;
}

// Pages top could reach: the reservation, plus what it could still grow by
// (by RLIMIT_AS; with_refusal: and not what was just refused).
size_t reachable(bool with_refusal) {
  size_t cur = g_arena.npages;
  size_t cap = top_cap();
  if (cur >= cap) return cap;
  size_t more = cap - cur;
  os::AddressSpace as = os::address_space();
  if (as.room != os::kUnlimited && pages_for_growth(cur, as.room) < more) more = pages_for_growth(cur, as.room);
  if (with_refusal && g_res.refused_at == cur && g_res.refused_limit == as.limit && as.room <= g_res.refused_room &&
      more >= g_res.refused_pages)
    more = g_res.refused_pages - 1;
  return cur + more;
}

constexpr PageRange kClean{0, 0};
size_t count(PageRange r) { return r.hi - r.lo; }
// r, of a span starting at page from, seen from the span [to, to + n).
PageRange rebase(PageRange r, size_t from, size_t to, size_t n) {
  if (r.hi == r.lo) return kClean;
  size_t lo = from + r.lo, hi = from + r.hi;
  if (lo < to) lo = to;
  if (hi > to + n) hi = to + n;
  if (hi <= lo) return kClean;
  return {static_cast<uint32_t>(lo - to), static_cast<uint32_t>(hi - to)};
}
// Pages of r inside [at, at + n).
size_t overlap(PageRange r, size_t at, size_t n) {
  size_t lo = r.lo > at ? r.lo : at, hi = r.hi < at + n ? r.hi : at + n;
  return hi > lo ? hi - lo : 0;
}
PageRange hull(PageRange a, PageRange b) {
  if (a.hi == a.lo) return b;
  if (b.hi == b.lo) return a;
  return {a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}

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

RunMeta** list_for(size_t n) { return n <= kExact ? &g_heap.exact[n] : &g_heap.big; }

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
  for (RunMeta* m = g_heap.big; m; m = m->next) {
    if (m->npages < n) continue;
    size_t reuse = by_dirty ? count(m->dirty) : 0;
    if (reuse > n) reuse = n;
    bool better = !best || reuse > best_reuse;
    if (!better && reuse == best_reuse) {  // best fit: of the dirty pages (by_dirty), then of the span
      size_t d = by_dirty ? count(m->dirty) : 0, bd = by_dirty ? count(best->dirty) : 0;
      better = d < bd || (d == bd && m->npages < best->npages);
    }
    if (better) best = m, best_reuse = reuse;
  }
  return best;
}

// Free spans inside the arena that no request fits still count: under
// RLIMIT_AS they hold address space, and against the arena's limit they hold
// memory. A program that freed every other 1 MiB block of 1.4 GiB got ENOMEM
// for 600 MiB (under `ulimit -v 2000000`, or HAKOZUNA_ARENA_SIZE=2G), where
// glibc, whose large blocks are mappings of their own, gave it. punch_holes
// unmaps the data of free spans, the largest first, until at least want
// pages are back, and keeps them out of the heap until refill_holes maps
// them again: kSpanHole is on no free list and merges with nothing, its side
// arrays stay mapped (free() of a stale pointer into a hole reads only
// those), and its pages do not count against the limit (top_cap). The span
// ending at top stays (it joins the growth). At most kHolesMax holes: each
// is one more mapping, and mappings are limited (vm.max_map_count, 65 530):
// half of them at most (glibc's mapped chunks take one each too; 8192 left
// a program that freed 15 092 blocks of 260 KiB under `ulimit -v 4000000`
// 2 080 MiB of its own to map, against glibc's 3 888). An unmap the kernel
// refuses (the process at its mapping limit) leaves the span free.
constexpr size_t kHolesMax = 32768;
// Holes that refill_holes finds taken (the program mapped something there)
// before it stops: each is a failed system call, and a grow must not pay
// one per hole.
constexpr unsigned kHoleProbesTaken = 8;

// Maps holes back as clean free spans, merged with their free neighbours,
// where the limit and RLIMIT_AS allow and nothing else took the addresses:
// once the program has freed what surrounded them they serve requests again,
// and the range does not creep up (a loop of "fill 1.4 GiB with 1 MiB
// blocks, free every other one, take 600 MiB, free all" under ulimit -v
// failed at its 14th round, its side arrays grown past the room). True when
// a span of n pages is free afterwards.
// Whether the hole at m, with the free spans and holes around it, spans n
// pages: mapping back a hole that cannot serve the request only takes
// address space (a realloc from 8 to 16 MiB mapped back every 8 MiB hole
// the earlier moves had left between small blocks).
bool hole_can_serve(RunMeta* m, size_t n) {
  const size_t first = page_of(m);
  size_t got = m->npages;
  auto joins = [](const RunMeta* s) { return s->state == kSpanFree || s->state == kSpanHole; };
  for (size_t p = first; got < n && p > 0 && joins(meta_of(p - 1));) {
    p -= meta_of(p - 1)->npages;
    got += meta_of(p)->npages;
  }
  for (size_t p = first + m->npages; got < n && p < g_heap.top && joins(meta_of(p)); p += meta_of(p)->npages)
    got += meta_of(p)->npages;
  return got >= n;
}

// At most kHoleProbes holes that cannot serve the request are looked at per
// call, each then moved to the tail: near the limit, with thousands of holes,
// every grow walked them all under the heap lock (1000 threads replacing
// blocks of up to 4.3 MB in a 256 MiB arena spent 29% of their time there,
// the rest mostly waiting for that lock). A hole whose neighbour is freed
// moves to the head (insert_free), where the next call looks first.
constexpr unsigned kHoleProbes = 64;

bool refill_holes(size_t n) {
  unsigned taken = 0, probed = 0;
  for (RunMeta *m = g_hole_list, *next, *last = g_hole_tail; m; m = next) {
    // What holes mapped back may take (each one mapped back takes some).
    const size_t used = g_heap.top - g_hole_pages;
    if (used >= g_heap.limit) return false;
    next = m == last ? nullptr : m->next;  // each once, though the ones tried move past last
    const size_t page = page_of(m), h = m->npages;
    if (h > g_heap.limit - used || !hole_can_serve(m, n)) {  // past the limit, or cannot serve n
      hole_unlink(m), hole_link(m, true);
      if (++probed == kHoleProbes) break;
      continue;
    }
    if (!os::reserve_at(page_addr(page), h << kPageShift)) {
      if (errno == ENOMEM) break;  // RLIMIT_AS: the others would not fit either
      hole_unlink(m), hole_link(m, true);  // something else lives there now: tried last
      if (++taken == kHoleProbesTaken) break;
      continue;
    }
    hole_unlink(m);
    insert_free(page, h, kClean, os::now_ms());
    stats::add(stats::kArenaHoleRefills, 1);
    if (find_free(n)) return true;  // no more than it takes: the rest stays unmapped
  }
  return false;
}

// Unmaps the free span m as a hole; its pages. Not the span ending at top,
// nor one past it (free_span's, when shrink_tail dropped it with the top:
// its metadata is stale).
bool g_punch_refused = false;  // the last unmap was refused: punch_holes stops
size_t punch(RunMeta* m) {
  size_t page = page_of(m), n = m->npages;
  if (page + n >= g_heap.top || g_holes >= kHolesMax) return 0;
  g_punch_refused = !os::release(page_addr(page), n << kPageShift);
  if (g_punch_refused) return 0;
  list_remove(m);
  set_span(page, n, kSpanHole);
  hole_link(m);
  stats::add(stats::kArenaHoles, 1);
  return n;
}

size_t punch_holes(size_t want) {
  size_t got = 0;
  g_punch_refused = false;
  auto more = [&] { return got < want && g_holes < kHolesMax && !g_punch_refused; };
  for (RunMeta *m = g_heap.big, *next; m && more(); m = next) {
    next = m->next;
    got += punch(m);
  }
  for (size_t n = kExact; n >= 1 && more(); --n)
    for (RunMeta *m = g_heap.exact[n], *next; m && more(); m = next) {
      next = m->next;
      got += punch(m);
    }
  if (got && options::get().verbose) say("unmapped free spans: ", got << kPageShift, 0);
  return got;
}

// Data pages below g_open are accessible; past it the reservation is
// PROT_NONE (init). Opened ahead of top by a quarter of what is open: each
// mprotect takes the process's mmap lock for writing and stalls every
// thread's page faults (32 threads faulting fresh runs in: 8% slower with
// one per 2 MiB chunk). Never across a taken range (not ours).
size_t g_open = 0;
bool open_to(size_t page, size_t end) {
  if (end <= g_open) return true;
  const size_t from = g_open > page ? g_open : page;  // below page: holes, taken ranges
  size_t want = round_up(from + from / 4, kArenaGrowPages);
  if (want < end) want = end;
  if (want > g_arena.npages) want = g_arena.npages;
  for (unsigned i = 0; i < g_ntaken; ++i)
    if (g_taken[i].lo >= end && g_taken[i].lo < want) want = g_taken[i].lo;
  if (!os::protect(page_addr(from), (want - from) << kPageShift, true)) return false;
  g_open = want;
  return true;
}

// Hands [page, page + n) over to the heap as top passes it: free spans,
// opened (the reservation is inaccessible past top), and holes where an
// extension found the range taken (g_taken). False if some of it was taken;
// *refused: the kernel refused to open a part (top is then set back to it).
bool add_top(size_t page, size_t n, bool* refused) {
  bool all_free = true;
  *refused = false;
  const size_t end = page + n;
  while (page < end) {
    size_t free_end = end;
    unsigned i = 0;
    while (i < g_ntaken && g_taken[i].hi <= page) ++i;
    if (i < g_ntaken && g_taken[i].lo <= page) {
      // A taken range: a hole of its own, which refill_holes claims back
      // once the program has let it go.
      const size_t hi = g_taken[i].hi < end ? g_taken[i].hi : end;
      set_span(page, hi - page, kSpanHole);
      hole_link(meta_of(page));
      all_free = false;
      if (hi == g_taken[i].hi) {
        for (unsigned j = i + 1; j < g_ntaken; ++j) g_taken[j - 1] = g_taken[j];
        --g_ntaken;
      } else {
        g_taken[i].lo = hi;
      }
      page = hi;
      continue;
    }
    if (i < g_ntaken && g_taken[i].lo < free_end) free_end = g_taken[i].lo;
    if (!open_to(page, free_end)) {
      g_heap.top = page;
      *refused = true;
      return false;
    }
    insert_free(page, free_end - page, kClean, os::now_ms());
    page = free_end;
  }
  return all_free;
}

bool grow_top(size_t n) {
  for (;;) {
    const size_t cap = top_cap();
    size_t chunk = (n + kArenaGrowPages - 1) / kArenaGrowPages * kArenaGrowPages;
    HZ_CHECK(g_heap.top <= cap, "page heap: top past the limit");
    if (g_heap.top + chunk > cap) chunk = cap > g_heap.top ? cap - g_heap.top : 0;
    // A free span ending at top merges with the new chunk.
    size_t tail = 0;
    if (g_heap.top > 0 && meta_of(g_heap.top - 1)->state == kSpanFree) tail = meta_of(g_heap.top - 1)->npages;
    if (chunk + tail < n || chunk == 0) return false;
    if (g_heap.top + chunk > g_arena.npages) {
      // Beyond the reservation: extend it, at least by what serves n.
      if (!extend(g_heap.top + chunk, g_heap.top + (n > tail ? n - tail : 0))) return false;
      if (g_heap.top + chunk > g_arena.npages) chunk = g_arena.npages - g_heap.top;
    }
    size_t page = g_heap.top;
    g_heap.top += chunk;
    stats::add(stats::kArenaGrowChunks, 1);
    bool refused;
    if (add_top(page, chunk, &refused)) return true;
    if (refused) return false;
    // Some of it was taken: go on while what is free at top cannot serve n.
    if (meta_of(g_heap.top - 1)->state == kSpanFree && meta_of(g_heap.top - 1)->npages >= n) return true;
  }
}

bool grow(size_t n) {
  const int saved = errno;  // a refused mapping's: not the caller's business if this works
  // Holes first, where the span freed by a large block went under RLIMIT_AS
  // (free_span): else each round of "fill, free" would move the range up,
  // and its side arrays with it, until they fill the room.
  if (kArenaHoles && g_holes && refill_holes(n)) {
    errno = saved;
    return true;
  }
  if (grow_top(n)) return true;
  if (!kArenaHoles) return false;
  // Out of room at the top: holes whose neighbours were freed may serve n
  // once mapped again; else free spans too small for n give their room back
  // (with a margin for the side arrays an extension maps), and once more.
  if (!refill_holes(n) &&
      (!punch_holes(n * kBytesPerPage / kPageSize + kArenaGrowPages) || !grow_top(n)))
    return false;
  errno = saved;
  return true;
}

// Under RLIMIT_AS the program needs address space for its own mappings
// (thread stacks, mmap), so free space at the end of the reservation goes
// back: the whole grow chunks of the free span ending at top, if idle for
// min_age_ms and starting at or below at_or_below, and what lies past top.
// Data only (see Reservation); the reservation keeps kArenaReserveMin and
// later grows in place again. Returns the dirty bytes unmapped.
size_t shrink_tail(uint32_t now_ms, uint32_t min_age_ms, size_t at_or_below = ~size_t{0}) {
  size_t top = g_heap.top;
  if (top == 0 || meta_of(top - 1)->state != kSpanFree) return 0;
  size_t start = top - meta_of(top - 1)->npages;
  RunMeta* m = meta_of(start);
  size_t cut = round_up(start, kArenaGrowPages);
  if (cut < (kArenaReserveMin >> kPageShift)) cut = kArenaReserveMin >> kPageShift;
  if (start > at_or_below || cut + kArenaGrowPages > top || now_ms - m->since_ms < min_age_ms) return 0;
  if (os::address_space_limit() == os::kUnlimited) return 0;  // only then: no cost otherwise
  list_remove(m);
  PageRange d = m->dirty;
  size_t dirty = count(rebase(d, start, cut, top - cut)) << kPageShift;
  if (cut > start) put_free(start, cut - start, rebase(d, start, start, cut - start), m->since_ms);
  size_t old = g_arena.npages;
  g_heap.top = cut;
  // Size before the unmap: a free racing with this, of a pointer past cut
  // (invalid: nothing there is in use), sees the new size or a zero tag, and
  // never reaches the data.
  __atomic_store_n(&g_pagemap.size, cut << kPageShift, __ATOMIC_RELEASE);
  __atomic_store_n(&g_arena.npages, cut, __ATOMIC_RELEASE);
  // What lies past cut is ours but for the ranges an extension found taken
  // (all past top): those are the program's, left as they are and forgotten.
  size_t from = cut;
  for (unsigned i = 0; i < g_ntaken; ++i) {
    if (g_taken[i].lo > from) os::release(page_addr(from), (g_taken[i].lo - from) << kPageShift);
    from = g_taken[i].hi;
  }
  g_ntaken = 0;
  if (old > from) os::release(page_addr(from), (old - from) << kPageShift);
  if (g_open > cut) g_open = cut;  // mapped again inaccessible when the reservation grows
  if (options::get().verbose) say("shrank to ", cut << kPageShift, 0);
  return dirty;
}

// Large keep: the spare's dirty pages (held outside the bound).
size_t spare_pages() { return g_heap.spare ? count(g_heap.spare->dirty) : 0; }

// The peak the bound is a share of: without the spare, which would raise the
// bound it is held beyond (and with it what is kept: a loop).
void note_peak() {
  size_t mapped = g_heap.in_use + g_heap.dirty_free - spare_pages();
  if (mapped > g_heap.mapped_peak) __atomic_store_n(&g_heap.mapped_peak, mapped, __ATOMIC_RELAXED);  // free_span reads it unlocked
}

// ---- spans out of the lists while being purged ----
HZ_TLS char t_purge_token;  // its address tells the purging thread (the same in a fork child)

void purging_link(RunMeta* m) {
  g_heap.purging += m->npages;
  m->free_list = reinterpret_cast<FreeBlock*>(&t_purge_token);
  m->free_tail = reinterpret_cast<FreeBlock*>(uintptr_t{g_heap.fork_gen});
  m->prev = nullptr;
  m->next = g_heap.purging_list;
  if (m->next) m->next->prev = m;
  g_heap.purging_list = m;
}

void purging_unlink(RunMeta* m) {
  HZ_CHECK(g_heap.purging >= m->npages, "page heap: a purged span not counted as purging");
  g_heap.purging -= m->npages;
  if (m->prev) m->prev->next = m->next; else g_heap.purging_list = m->next;
  if (m->next) m->next->prev = m->prev;
  m->free_list = m->free_tail = nullptr;
}

bool purging_by_others() {
  for (RunMeta* m = g_heap.purging_list; m; m = m->next)
    if (m->free_list != reinterpret_cast<FreeBlock*>(&t_purge_token)) return true;
  return false;
}

// In a fork child, under the lock: the spans threads of the parent (and
// earlier ancestors) were purging go back on the lists, dirty over their
// whole range (whether the madvise came before the fork is unknown). Not:
// - spans linked in this process (a lazy relist runs after the child's own
//   threads may have started purging);
// - the forking thread's own from its ancestors (a fork from a handler that
//   interrupted its purge, and the forks that child's handler makes in
//   turn): the interrupted code puts them back as it resumes. Told by the
//   token recorded at the fork and the generations since which that thread
//   made every fork: a thread the child creates may get a dead thread's
//   stack, TLS and token from glibc's stack cache (the purger's 64 KiB one).
void purging_relist() {
  g_heap.relist_in_child = false;
  for (RunMeta *m = g_heap.purging_list, *next; m; m = next) {
    next = m->next;
    const uint32_t gen = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(m->free_tail));
    if (gen == g_heap.fork_gen) continue;
    if (m->free_list == g_heap.fork_token && gen >= g_heap.fork_chain) continue;
    const size_t page = page_of(m), n = m->npages;
    const PageRange dirty = m->dirty;
    const uint32_t since = m->since_ms;
    purging_unlink(m);
    insert_free(page, n, dirty, since);
  }
}

// ---- large keep: the bound (keep.h) ----
// Dirty pages over the bound are purged oldest first, outside the lock: their
// span leaves the lists meanwhile, marked in use so that no merge reaches it.
struct Evict {
  size_t page, n;
  PageRange keep, cut;  // dirty pages that stay, and those purged
  uint32_t since;
};
constexpr unsigned kEvictMax = 8;

// Dirty pages counted against the bound: those of the big list but the spare's.
size_t dirty_bounded() { return g_heap.dirty_big - spare_pages(); }

unsigned take_over_bound(size_t limit, Evict* out) {
  unsigned k = 0;
  while (dirty_bounded() > limit && k < kEvictMax) {
    RunMeta* oldest = nullptr;
    for (RunMeta* m = g_heap.big; m; m = m->next)
      if (m != g_heap.spare && count(m->dirty) && (!oldest || static_cast<int32_t>(m->since_ms - oldest->since_ms) < 0))
        oldest = m;
    if (!oldest) break;
    PageRange d = oldest->dirty;
    size_t excess = dirty_bounded() - limit;
    uint32_t cut = static_cast<uint32_t>(count(d) < excess ? count(d) : excess);
    size_t page = page_of(oldest), n = oldest->npages;
    // Cut at the end away from where the span last grew: the dirty range is
    // one hull, and a cut there would be counted dirty again by the next
    // merge (blocks freed in address order, each a little over the bound,
    // purged a range growing by a block each time: 299 purges of up to
    // 90 MB after 600 frees of 300 KiB).
    const bool below = oldest->grew_up;
    const PageRange gone = below ? PageRange{d.lo, d.lo + cut} : PageRange{d.hi - cut, d.hi};
    const PageRange left = cut == count(d) ? kClean : below ? PageRange{d.lo + cut, d.hi} : PageRange{d.lo, d.hi - cut};
    list_remove(oldest);
    set_span(page, n, kSpanInUse);
    purging_link(oldest);  // its dirty range and clock stay as they were, for a fork child
    out[k++] = {page, n, left, gone, oldest->since_ms};
  }
  return k;
}

// A free span's dirty pages purged: out of the lists until purged
// (purge_evicted), like an evicted span. For the spare, or what is left of it.
unsigned drop(RunMeta* m, Evict* out) {
  if (!m || !count(m->dirty)) return 0;
  size_t page = page_of(m), n = m->npages;
  out[0] = {page, n, kClean, m->dirty, m->since_ms};
  list_remove(m);
  set_span(page, n, kSpanInUse);
  purging_link(m);
  return 1;
}
unsigned drop_spare(Evict* out) {
  if (g_heap.spare) stats::add(stats::kKeepSpareDropped, 1);
  return drop(g_heap.spare, out);
}

// After a span was placed (or grown) into the free span that held the spare
// (in_spare; a and b: the free spans left beside it, or null) or elsewhere.
// Anywhere else drops the spare: a span's dirty pages are a hull, and pages
// freed untouched count too, so "dirty" does not mean resident. A large span
// placed in it over dirty pages only (reused of them, out of npages) reused
// it: of a and b, the one on the big list with more dirty pages is the spare
// now. A run there, or one that took other pages too, drops what is left.
unsigned spare_after_placement(bool in_spare, bool large, size_t reused, size_t npages, size_t spare_dirty,
                               RunMeta* a, RunMeta* b, Evict* ev) {
  if (!in_spare) return drop_spare(ev);
  if (large && reused == npages) {
    RunMeta* best = nullptr;
    for (RunMeta* r : {a, b})
      if (r && r->npages > kExact && count(r->dirty) && (!best || count(r->dirty) > count(best->dirty))) best = r;
    g_heap.spare = best;
    return 0;
  }
  if (reused == spare_dirty) return 0;  // none of it left
  stats::add(stats::kKeepSpareDropped, 1);
  unsigned k = drop(a, ev);
  return k + drop(b, ev + k);
}

// A free span's dirty pages purged in place, under the lock (the decay's
// way). Returns the pages purged.
size_t purge_dirty(RunMeta* m) {
  const size_t d = count(m->dirty);
  if (!d) return 0;
  os::purge(page_addr(page_of(m) + m->dirty.lo), d << kPageShift, kFreeSpansOpen);
  g_heap.dirty_free -= d;
  if (m->npages > kExact) g_heap.dirty_big -= d;
  m->dirty = kClean;
  return d;
}

// Each purger tick: a spare seen at the last tick and not reused since is
// dropped, to be purged outside the lock (the program has moved on; and
// memory it takes outside the allocator, its own mappings, does not drop it).
unsigned spare_tick(Evict* out) {
  if (!g_heap.spare) return 0;
  if (g_heap.spare_seen != g_heap.spare_gen) return g_heap.spare_seen = g_heap.spare_gen, 0;
  return drop_spare(out);
}

void purge_evicted(const Evict* ev, unsigned k) {
  size_t bytes = 0;
  for (unsigned i = 0; i < k; ++i) {
    os::purge(page_addr(ev[i].page + ev[i].cut.lo), count(ev[i].cut) << kPageShift, kFreeSpansOpen);
    bytes += count(ev[i].cut) << kPageShift;
  }
  stats::add(stats::kPurgedBytes, bytes);
  LockGuard g(g_heap.lock);
  for (unsigned i = 0; i < k; ++i) {
    purging_unlink(meta_of(ev[i].page));
    insert_free(ev[i].page, ev[i].n, ev[i].keep, ev[i].since);
  }
}

}  // namespace

bool init() {
  const options::Values& opt = options::get();
  size_t max_bytes = opt.arena_size_set && opt.arena_size > kArenaReserveDefault ? opt.arena_size : kArenaReserveDefault;
  g_res.max_pages = round_up(max_bytes, kAlign) >> kPageShift;
  g_heap.limit = opt.arena_size_set ? opt.arena_size >> kPageShift : g_res.max_pages;
  // Under RLIMIT_AS, a quarter of the room left: the program needs room for
  // its own mappings (libraries, thread stacks), and the arena grows later.
  size_t want = g_res.max_pages << kPageShift;
  os::AddressSpace as = os::address_space();
  if (as.room != os::kUnlimited && (pages_for(as.room / 4) << kPageShift) < want) want = pages_for(as.room / 4) << kPageShift;
  // Memcheck's leak check reads every readable mapping: a small start, grown
  // in place as needed, keeps it from reading 256 GiB of untouched pages.
  track::init();
  if (track::active() && want > kArenaReserveMemcheck) want = kArenaReserveMemcheck;
  if (want < kArenaReserveMin) want = kArenaReserveMin;
  // Halved on failure (valgrind, strict overcommit, a tight RLIMIT_AS).
  Hints hint = pick_hints(g_res.max_pages);
  for (size_t size = want;; size = size / 2 / kAlign * kAlign) {
    if (size < kArenaReserveMin) size = kArenaReserveMin;
    size_t npages = size >> kPageShift;
    // Data past top stays inaccessible (add_top opens it): a program that
    // reads every page of its writable mappings (stress-ng --fork-vm, a
    // checkpointer, memcheck's leak check) would fault in 256 GiB of zero
    // pages, 39 s of system time per process.
    void* data = os::reserve_aligned(size, kAlign, hint.data, false);
    void* tags = data ? os::reserve(tags_bytes(npages), hint.tags) : nullptr;
    void* meta = tags ? os::reserve(meta_bytes(npages), hint.meta) : nullptr;
    if (!meta) {
      if (data) os::release(data, size);
      if (tags) os::release(tags, tags_bytes(npages));
      if (size == kArenaReserveMin) return false;
      continue;
    }
    g_arena.meta = static_cast<RunMeta*>(meta);
    g_arena.npages = npages;
    g_res.tags_mapped = tags_bytes(npages);
    g_res.meta_mapped = meta_bytes(npages);
    // Transparent huge pages: fewer TLB misses, but purging a partly used
    // 2 MiB page splits it, and RSS grows in 2 MiB steps. Off by default.
    if (opt.hugepages) os::advise_hugepages(data, size);
    g_pagemap.tags = static_cast<PageTag*>(tags);
    g_pagemap.base = reinterpret_cast<uintptr_t>(data);
    __atomic_store_n(&g_pagemap.size, size, __ATOMIC_RELEASE);
    if (opt.verbose) say("reserved ", size, g_heap.limit << kPageShift);
    return true;
  }
}

namespace {
// alloc_span_dirty under the heap lock; *k: spans evicted, for the caller to
// purge outside it.
RunMeta* place_span(size_t npages, size_t align_pages, PageRange* dirty, Evict* ev, unsigned* k) {
  size_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
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
  const size_t as_limit = keep_it || purge ? os::address_space_limit() : os::kUnlimited;
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

// Spans with at least this many dirty pages are purged outside the lock
// (taken out of the lists meanwhile, as evicted spans are): madvise of a
// few hundred MB takes tens of ms, and every carve and large malloc waits
// for the lock.
constexpr size_t kPurgeUnlockedPages = 256;

size_t purge(uint32_t now_ms, uint32_t min_age_ms) {
  size_t purged = 0, unlocked = 0;  // purge_evicted counts the second
  for (bool first = true;; first = false) {
    Evict ev[kEvictMax];
    unsigned k = 0;
    {
      LockGuard g(g_heap.lock);
      if (HZ_UNLIKELY(g_heap.relist_in_child)) purging_relist();
      if (first) {
        if (min_age_ms && (k = spare_tick(ev))) unlocked += count(ev[0].cut) << kPageShift;
        purged += shrink_tail(now_ms, min_age_ms);
      }
      auto purge_list = [&](RunMeta* head) {
        for (RunMeta *m = head, *next; m && k < kEvictMax; m = next) {
          next = m->next;  // m may leave the list
          // Freed after this purge began: another round's (a trim beside
          // threads freeing large blocks would chase their frees).
          if (!count(m->dirty) || now_ms - m->since_ms < min_age_ms || static_cast<int32_t>(m->since_ms - now_ms) > 0)
            continue;
          if (count(m->dirty) < kPurgeUnlockedPages) {
            purged += purge_dirty(m) << kPageShift;
          } else {
            unlocked += count(m->dirty) << kPageShift;
            k += drop(m, ev + k);
          }
        }
      };
      for (size_t i = 1; i <= kExact && g_heap.dirty_free; ++i) purge_list(g_heap.exact[i]);
      if (g_heap.dirty_free) purge_list(g_heap.big);
    }
    if (!k) break;
    purge_evicted(ev, k);
  }
  stats::add(stats::kPurgedBytes, purged);
  return purged + unlocked;
}

size_t pages_available() {
  LockGuard g(g_heap.lock);
  return g_heap.free_pages + g_heap.purging + (reachable(true) - g_heap.top);
}

bool might_fit(size_t npages) {
  if (npages > g_heap.limit) return false;
  if (npages <= __atomic_load_n(&g_arena.npages, __ATOMIC_RELAXED)) return true;
  LockGuard g(g_heap.lock);
  return npages <= reachable(false);  // a refusal is retried: things may have changed
}

void lock() { g_heap.lock.lock(); }
void unlock() { g_heap.lock.unlock(); }
void reset_lock() { g_heap.lock.reset(); }

void fork_child(bool locked) {
  if (g_heap.fork_token != &t_purge_token) g_heap.fork_chain = g_heap.fork_gen;  // the parent's
  g_heap.fork_token = &t_purge_token;  // on the forking thread
  ++g_heap.fork_gen;
  if (!locked) {  // the interrupted code may hold the lock: the next purge or wait does it
    g_heap.relist_in_child = true;
    return;
  }
  LockGuard g(g_heap.lock);
  purging_relist();
}

void wait_purges() {
  for (int i = 0; i < 2000; ++i) {  // 200 ms at most: a madvise of a few GB
    {
      LockGuard g(g_heap.lock);
      if (HZ_UNLIKELY(g_heap.relist_in_child)) purging_relist();
      if (!purging_by_others()) return;
    }
    struct timespec ts = {0, 100000};
    syscall(SYS_nanosleep, &ts, nullptr);  // libc's is a cancellation point
  }
}

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
