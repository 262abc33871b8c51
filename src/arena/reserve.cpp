// The reservation: one range of address space for the data, with two side
// arrays (page tags, run metadata), placed at random with room to grow in
// place; all three mapped inaccessible past the heap's top and opened as top
// passes.
// Its growth, the holes (free spans unmapped when the top cannot grow), the
// shrink of its tail under RLIMIT_AS, and what the heap could still reach.
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena/heap.h"
#include "options/options.h"
#include "os/os.h"
#include "stats/stats.h"
#include "track/memcheck.h"

namespace hz {
namespace arena {

// ---- holes ----
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

namespace {

constexpr size_t kAlign = size_t{2} << 20;  // data: huge pages possible, segment math simple
constexpr size_t kArenaReserveMemcheck = size_t{64} << 20;  // the first reservation under memcheck
constexpr size_t kGrain = size_t{64} << 10; // side arrays: any OS page size
constexpr size_t kGiB = size_t{1} << 30;
constexpr size_t kBytesPerPage = kPageSize + sizeof(PageTag) + sizeof(RunMeta);

struct Reservation {
  size_t max_pages = 0;  // the regions were placed with room to grow to this
  // Bytes mapped of each side array. They may cover more than npages: a
  // shrink unmaps data only, since free() reads tags (and reclaim meta)
  // without the lock, possibly with a size loaded before the shrink.
  size_t tags_mapped = 0, meta_mapped = 0;
  // Bytes opened (readable, writable) of each, from the start: they follow
  // the data's g_open and never close again, since free() reads tags
  // without the lock. A side array open from the start filled 4.5 GiB under
  // mlockall (which fills every accessible page).
  size_t tags_open = 0, meta_open = 0;
  // The last extension refused (at this size, this RLIMIT_AS and room): not
  // promised again by pages_available() while nothing got better.
  size_t refused_at = 0, refused_pages = 0, refused_limit = 0, refused_room = 0;
  size_t limit_seen = 0;  // RLIMIT_AS when the reservation last fitted it (fit_limit)
};
constinit Reservation g_res;

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
  size_t covered = g_res.tags_mapped / sizeof(PageTag);
  if (g_res.meta_mapped / sizeof(RunMeta) < covered) covered = g_res.meta_mapped / sizeof(RunMeta);
  size_t cheap = covered > cur ? covered - cur : 0;
  size_t more = bytes >> kPageShift;
  if (more > cheap) more = cheap + pages_for(bytes - (cheap << kPageShift));
  return more / kArenaGrowPages * kArenaGrowPages;
}

// Pages whose tag and run record are open: g_pagemap.size never passes them.
size_t side_open() {
  size_t t = g_res.tags_open / sizeof(PageTag), m = g_res.meta_open / sizeof(RunMeta);
  return t < m ? t : m;
}
void publish_size() {
  size_t n = side_open() < g_arena.npages ? side_open() : g_arena.npages;
  __atomic_store_n(&g_pagemap.size, n << kPageShift, __ATOMIC_RELEASE);
}
// Opens the side arrays for the pages below end (in grains), then lets free()
// see those pages.
bool open_side(size_t end) {
  if (end <= side_open()) return true;
  auto widen = [](char* base, size_t& done, size_t want, size_t mapped) {
    if (want > mapped) want = mapped;
    if (want <= done) return true;
    if (!os::protect(base + done, want - done, true)) return false;
    done = want;
    return true;
  };
  if (!widen(reinterpret_cast<char*>(g_pagemap.tags), g_res.tags_open, tags_bytes(end), g_res.tags_mapped) ||
      !widen(reinterpret_cast<char*>(g_arena.meta), g_res.meta_open, meta_bytes(end), g_res.meta_mapped))
    return false;
  publish_size();
  return true;
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
  bool t_ok = t1 <= t0 || os::reserve_at(tags + t0, t1 - t0, false);
  bool m_ok = t_ok && (m1 <= m0 || os::reserve_at(meta + m0, m1 - m0, false));
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
  // Side arrays first, size last: a reader that sees the new size finds them open.
  __atomic_store_n(&g_arena.npages, target, __ATOMIC_RELEASE);
  publish_size();
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

}  // namespace

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

// Maps the hole h back as a clean free span, merged with its free
// neighbours (*start: the merged span's first page). False (errno set) where
// the range is refused or taken: h stays a hole.
bool map_back(RunMeta* h, size_t* start) {
  const size_t page = page_of(h), n = h->npages;
  if (!os::reserve_at(page_addr(page), n << kPageShift)) return false;
  hole_unlink(h);
  *start = insert_free(page, n, kClean, os::now_ms());
  stats::add(stats::kArenaHoleRefills, 1);
  return true;
}

bool refill_holes(size_t n) {
  unsigned taken = 0, probed = 0;
  for (RunMeta *m = g_hole_list, *next, *last = g_hole_tail; m; m = next) {
    // What holes mapped back may take (each one mapped back takes some).
    const size_t used = g_heap.top - g_hole_pages;
    if (used >= g_heap.limit) return false;
    next = m == last ? nullptr : m->next;  // each once, though the ones tried move past last
    const size_t h = m->npages;
    if (h > g_heap.limit - used || !hole_can_serve(m, n)) {  // past the limit, or cannot serve n
      hole_unlink(m), hole_link(m, true);
      if (++probed == kHoleProbes) break;
      continue;
    }
    size_t start;
    if (!map_back(m, &start)) {
      if (errno == ENOMEM) break;  // RLIMIT_AS: the others would not fit either
      hole_unlink(m), hole_link(m, true);  // something else lives there now: tried last
      if (++taken == kHoleProbesTaken) break;
      continue;
    }
    if (find_free(n)) return true;  // no more than it takes: the rest stays unmapped
    // It can serve n with the holes beside it (hole_can_serve): those next,
    // whichever list position they hold (one at a time from the list, the
    // range crept up past holes each too small alone).
    for (unsigned more = 0; more < kHoleProbes; ++more) {
      const size_t len = meta_of(start)->npages;
      RunMeta* side = nullptr;
      if (start > 0 && meta_of(start - 1)->state == kSpanHole) side = meta_of(start - meta_of(start - 1)->npages);
      if ((!side || !side->hole_listed) && start + len < g_heap.top && meta_of(start + len)->state == kSpanHole)
        side = meta_of(start + len);
      if (!side || !side->hole_listed || side->npages > g_heap.limit - (g_heap.top - g_hole_pages) ||
          !map_back(side, &start))
        break;
      if (find_free(n)) return true;
    }
    return find_free(n) != nullptr;  // (the list may have changed under next)
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
  const size_t got = n;
  // One hole with the punched holes beside it (one unmapped range): apart,
  // trims that each unmapped the free pieces between live runs piled up
  // holes to kHolesMax, none large enough to serve a request once mapped
  // back alone, and the range crept up by 8 MiB a trim (a helper's loop
  // under a 400 MiB limit: 6 GB reserved, its own mmap failing).
  auto punched = [](RunMeta* h) { return h->state == kSpanHole && h->hole_listed && h->punched; };
  if (page > 0 && meta_of(page - 1)->state == kSpanHole) {
    RunMeta* left = meta_of(page - meta_of(page - 1)->npages);
    if (punched(left) && left->npages == meta_of(page - 1)->npages) {
      hole_unlink(left);
      page -= left->npages;
      n += left->npages;
    }
  }
  if (page + n < g_heap.top && punched(meta_of(page + n))) {
    RunMeta* right = meta_of(page + n);
    hole_unlink(right);
    n += right->npages;
  }
  set_span(page, n, kSpanHole);
  meta_of(page)->punched = 1;
  hole_link(meta_of(page));
  stats::add(stats::kArenaHoles, 1);
  return got;
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
  if (!open_side(want) || !os::protect(page_addr(from), (want - from) << kPageShift, true)) return false;
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
  // The records of the whole chunk first: top is at its end already, so a
  // free span inserted below a taken range reads the record at the range's
  // start (its right neighbour), which open_to, stopping at the range, may
  // not have opened (a taken range at a 4 MiB boundary: SIGSEGV).
  if (!open_side(end)) {
    g_heap.top = page;
    *refused = true;
    return false;
  }
  while (page < end) {
    size_t free_end = end;
    unsigned i = 0;
    while (i < g_ntaken && g_taken[i].hi <= page) ++i;
    if (i < g_ntaken && g_taken[i].lo <= page) {
      // A taken range: a hole of its own, which refill_holes claims back
      // once the program has let it go.
      const size_t hi = g_taken[i].hi < end ? g_taken[i].hi : end;
      set_span(page, hi - page, kSpanHole);
      meta_of(page)->punched = 0;  // the program's: mapped back only once it lets it go, never merged
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

// The reservation's data ends at cut (at or past top) from now on.
void cut_data(size_t cut) {
  const size_t old = g_arena.npages;
  // Size before the unmap: a free racing with this, of a pointer past cut
  // (invalid: nothing there is in use), sees the new size or a zero tag, and
  // never reaches the data.
  __atomic_store_n(&g_arena.npages, cut, __ATOMIC_RELEASE);
  publish_size();
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
}

void fit_limit() {
  const size_t limit = os::address_space_limit();
  if (limit == g_res.limit_seen) return;
  __atomic_store_n(&g_res.limit_seen, limit, __ATOMIC_RELAXED);  // limit_tight() reads it without the lock
  if (limit == os::kUnlimited) return;
  // The data past top (whole grow chunks), as shrink_tail gives it back.
  const size_t cut = round_up(g_heap.top, kArenaGrowPages);
  if (cut < g_arena.npages) cut_data(cut);
  // The side arrays past what was ever opened (never read: g_pagemap.size
  // stays below it) and past what the data left needs.
  auto trim = [](void* base, size_t& mapped, size_t keep) {
    if (mapped > keep && os::release(static_cast<char*>(base) + keep, mapped - keep)) mapped = keep;
  };
  const size_t tags_keep = g_res.tags_open > tags_bytes(cut) ? g_res.tags_open : tags_bytes(cut);
  const size_t meta_keep = g_res.meta_open > meta_bytes(cut) ? g_res.meta_open : meta_bytes(cut);
  trim(g_pagemap.tags, g_res.tags_mapped, tags_keep);
  trim(g_arena.meta, g_res.meta_mapped, meta_keep);
  if (options::get().verbose) say("fitted RLIMIT_AS: ", cut << kPageShift, limit);
}

bool grow(size_t n) {
  fit_limit();  // the program may have set RLIMIT_AS since (and not through setrlimit)
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
size_t shrink_tail(uint32_t now_ms, uint32_t min_age_ms, size_t at_or_below) {
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
  g_heap.top = cut;
  cut_data(cut);
  if (options::get().verbose) say("shrank to ", cut << kPageShift, 0);
  return dirty;
}

bool init() {
  const options::Values& opt = options::get();
  size_t max_bytes = opt.arena_size_set && opt.arena_size > kArenaReserveDefault ? opt.arena_size : kArenaReserveDefault;
  g_res.max_pages = round_up(max_bytes, kAlign) >> kPageShift;
  g_heap.limit = opt.arena_size_set ? opt.arena_size >> kPageShift : g_res.max_pages;
  // Under RLIMIT_AS, a quarter of the room left: the program needs room for
  // its own mappings (libraries, thread stacks), and the arena grows later.
  size_t want = g_res.max_pages << kPageShift;
  os::AddressSpace as = os::address_space();
  __atomic_store_n(&g_res.limit_seen, as.limit, __ATOMIC_RELAXED);
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
    void* tags = data ? os::reserve(tags_bytes(npages), hint.tags, false) : nullptr;
    void* meta = tags ? os::reserve(meta_bytes(npages), hint.meta, false) : nullptr;
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
    g_pagemap.base = reinterpret_cast<uintptr_t>(data);  // size: 0 until add_top opens pages
    if (opt.verbose) say("reserved ", size, g_heap.limit << kPageShift);
    return true;
  }
}

void limit_changed() {
  if (!g_pagemap.base) return;
  // Not blocking on the lock: setrlimit may run in a signal handler whose
  // thread holds it. Another thread holds it only briefly, unless it was
  // preempted holding it (1 000 sched_yields were not enough beside a busy
  // core): 100 ms at most, then the next growth or decay pass fits it.
  for (int i = 0; i < 1000; ++i) {
    if (g_heap.lock.try_lock()) {
      fit_limit();
      g_heap.lock.unlock();
      return;
    }
    struct timespec ts = {0, 100000};
    syscall(SYS_nanosleep, &ts, nullptr);  // libc's is a cancellation point
  }
}

size_t unmap_idle(uint32_t now_ms, uint32_t min_age_ms) {
  if (g_res.limit_seen == os::kUnlimited) return 0;  // as last fitted: no system call
  size_t got = 0;
  g_punch_refused = false;
  for (RunMeta *m = g_heap.big, *next; m && g_holes < kHolesMax && !g_punch_refused; m = next) {
    next = m->next;
    if (m->npages >= kUnmapMinPages && now_ms - m->since_ms >= min_age_ms) got += punch(m);
  }
  if (got && options::get().verbose) say("unmapped idle free spans: ", got << kPageShift, 0);
  return got;
}

size_t limit_seen() {
  const size_t limit = __atomic_load_n(&g_res.limit_seen, __ATOMIC_RELAXED);
  return limit == 0 ? os::kUnlimited : limit;
}

bool limit_tight() {
  if constexpr (kTightLimitShare == 0) return false;
  const size_t limit = __atomic_load_n(&g_res.limit_seen, __ATOMIC_RELAXED);
  if (limit == 0 || limit == os::kUnlimited) return false;
  return (__atomic_load_n(&g_heap.top, __ATOMIC_RELAXED) << kPageShift) >= limit / kTightLimitShare;
}

size_t unmap_for_limit(uint32_t now_ms) {
  const size_t seen = limit_seen();  // a first look without the lock: most calls end here
  if (seen == os::kUnlimited || (__atomic_load_n(&g_heap.free_pages, __ATOMIC_RELAXED) << kPageShift) <= seen / kRlimitKeepShare)
    return 0;
  LockGuard g(g_heap.lock);
  const size_t limit = g_res.limit_seen;
  if (limit == 0 || limit == os::kUnlimited || (g_heap.free_pages << kPageShift) <= limit / kRlimitKeepShare) return 0;
  return unmap_idle(now_ms, 0);
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

}  // namespace arena
}  // namespace hz
