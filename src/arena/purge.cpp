// The purge of free spans' dirty pages: in place under the heap lock when
// short, and out of the lists, outside the lock, when long (the decay's big
// spans, the large keep's bound and spare); and what a fork child does with
// spans that were out being purged when it was forked.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena/heap.h"
#include "arena/keep.h"
#include "os/os.h"
#include "stats/stats.h"

namespace hz {
namespace arena {
namespace {

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

// Spans with at least this many dirty pages are purged outside the lock
// (taken out of the lists meanwhile, as evicted spans are): madvise of a
// few hundred MB takes tens of ms, and every carve and large malloc waits
// for the lock.
constexpr size_t kPurgeUnlockedPages = 256;

}  // namespace

// Dirty pages counted against the bound: those of the big list but the spare's.
size_t dirty_bounded() { return g_heap.dirty_big - spare_pages(); }

unsigned take_over_bound(size_t limit, Evict* out, unsigned max) {
  unsigned k = 0;
  while (dirty_bounded() > limit && k < max) {
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

unsigned hold_peak(size_t peak, size_t npages, Evict* ev, unsigned max) {
  // Only where the floor, not the share of the peak, is what lets pages be
  // kept: beyond, the share bounds them (the rule there purged the kept
  // spans of a program replacing 5-25 MiB buffers at each new one: 0.62x,
  // and its peak RSS rose 13%). Not for runs: carved while a small heap
  // ramps up, each raised the peak and purged spans used again (dist_app
  // 0.90x).
  if (!kKeepUnderPeak || !keep::on() || npages <= kExact || peak / kLargeKeepShare >= (kLargeKeepMinBytes >> kPageShift))
    return 0;
  const size_t mapped = g_heap.in_use + g_heap.dirty_free - spare_pages();
  if (mapped <= peak) return 0;
  const size_t over = mapped - peak, bounded = dirty_bounded();
  const unsigned k = take_over_bound(bounded > over ? bounded - over : 0, ev, max);
  stats::add(stats::kPeakEvict, k);
  return k;
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

size_t purge(uint32_t now_ms, uint32_t min_age_ms) {
  size_t purged = 0, unlocked = 0;  // purge_evicted counts the second
  for (bool first = true;; first = false) {
    Evict ev[kEvictMax];
    unsigned k = 0;
    {
      LockGuard g(g_heap.lock);
      if (HZ_UNLIKELY(g_heap.relist_in_child)) purging_relist();
      if (first) {
        // A limit set while the heap was busy, or from outside
        // (rlimit_hook.cpp): by the decay, not at each trim (a system call
        // each: trim_1000 0.95x).
        if (min_age_ms) fit_limit();
        if (min_age_ms && (k = spare_tick(ev))) unlocked += count(ev[0].cut) << kPageShift;
        purged += shrink_tail(now_ms, min_age_ms);
        purged += unmap_idle(now_ms, min_age_ms) << kPageShift;
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

}  // namespace arena
}  // namespace hz
