#include "arena/arena.h"

#include <stdlib.h>
#include <string.h>

#include "options/options.h"
#include "os/os.h"
#include "stats/stats.h"

namespace hz {

constinit PagemapState g_pagemap;
constinit ArenaState g_arena;

namespace arena {
namespace {

// Free spans of 1..kExact pages sit on exact lists; longer ones on one list
// searched best-fit (they are few).
constexpr size_t kExact = 256;

struct Heap {
  SpinLock lock;
  RunMeta* exact[kExact + 1] = {};
  uint64_t nonempty[(kExact + 1 + 63) / 64] = {};
  RunMeta* big = nullptr;
  size_t top = 0;        // pages below top have been handed out at least once
  size_t limit = 0;      // pages the arena may use
  size_t in_use = 0;     // pages in spans in use
  size_t dirty_free = 0; // pages in dirty free spans
  size_t free_pages = 0; // pages in free spans
  size_t mapped_peak = 0;
};
constinit Heap g_heap;

void set_span(size_t page, size_t n, uint8_t state, uint8_t dirty) {
  RunMeta* first = meta_of(page);
  first->state = state;
  first->npages = static_cast<uint32_t>(n);
  first->dirty = dirty;
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
  if (m->dirty) g_heap.dirty_free += m->npages;
  g_heap.free_pages += m->npages;
}

void list_remove(RunMeta* m) {
  RunMeta** head = list_for(m->npages);
  if (m->prev) m->prev->next = m->next; else *head = m->next;
  if (m->next) m->next->prev = m->prev;
  if (m->npages <= kExact && *head == nullptr) g_heap.nonempty[m->npages / 64] &= ~(uint64_t{1} << (m->npages % 64));
  if (m->dirty) g_heap.dirty_free -= m->npages;
  g_heap.free_pages -= m->npages;
}

// Inserts [page, page+n) as a free span, merging with free neighbours.
void insert_free(size_t page, size_t n, uint8_t dirty) {
  const size_t added = n;
  // A merged span keeps the decay clock of its oldest dirty part, so that
  // memory already idle is not held back by a neighbour freed just now.
  uint32_t since = os::now_ms();
  if (page > 0) {
    RunMeta* left_last = meta_of(page - 1);
    if (left_last->state == kSpanFree) {
      size_t ln = left_last->npages;
      RunMeta* left = meta_of(page - ln);
      HZ_CHECK(left->state == kSpanFree && left->npages == ln, "page heap: left neighbour corrupt");
      list_remove(left);
      page -= ln;
      n += ln;
      if (left->dirty && static_cast<int32_t>(since - left->since_ms) > 0) since = left->since_ms;
      dirty |= left->dirty;
    }
  }
  if (page + n < g_heap.top) {
    RunMeta* right = meta_of(page + n);
    if (right->state == kSpanFree) {
      size_t rn = right->npages;
      list_remove(right);
      n += rn;
      if (right->dirty && static_cast<int32_t>(since - right->since_ms) > 0) since = right->since_ms;
      dirty |= right->dirty;
    }
  }
  if (dirty && n >= kArenaGrowPages && n - added < kArenaGrowPages) stats::add(stats::kReclaimSegments, 1);
  set_span(page, n, kSpanFree, dirty);
  meta_of(page)->since_ms = since;
  list_insert(meta_of(page));
}

RunMeta* find_free(size_t n) {
  if (n <= kExact) {
    for (size_t w = n / 64; w < sizeof g_heap.nonempty / sizeof g_heap.nonempty[0]; ++w) {
      uint64_t bits = g_heap.nonempty[w];
      if (w == n / 64) bits &= ~uint64_t{0} << (n % 64);
      if (bits) return g_heap.exact[w * 64 + static_cast<size_t>(__builtin_ctzll(bits))];
    }
  }
  RunMeta* best = nullptr;
  for (RunMeta* m = g_heap.big; m; m = m->next)
    if (m->npages >= n && (!best || m->npages < best->npages)) best = m;
  return best;
}

bool grow(size_t n) {
  size_t chunk = (n + kArenaGrowPages - 1) / kArenaGrowPages * kArenaGrowPages;
  if (g_heap.top + chunk > g_heap.limit) chunk = g_heap.limit - g_heap.top;
  // A free span ending at top merges with the new chunk.
  size_t tail = 0;
  if (g_heap.top > 0 && meta_of(g_heap.top - 1)->state == kSpanFree) tail = meta_of(g_heap.top - 1)->npages;
  if (chunk + tail < n || chunk == 0) return false;
  size_t page = g_heap.top;
  g_heap.top += chunk;
  insert_free(page, chunk, 0);
  stats::add(stats::kArenaGrowChunks, 1);
  return true;
}

void note_peak() {
  size_t mapped = g_heap.in_use + g_heap.dirty_free;
  if (mapped > g_heap.mapped_peak) g_heap.mapped_peak = mapped;
}

}  // namespace

bool init() {
  const options::Values& opt = options::get();
  size_t want = kArenaReserveDefault;
  size_t limit = opt.arena_size_set ? opt.arena_size : 0;
  if (limit > want) want = limit;
  for (size_t size = want; size >= kArenaReserveMin; size /= 2) {
    size_t npages = size >> kPageShift;
    // 2 MiB alignment keeps huge pages possible and segment math simple.
    void* raw = os::reserve(size + (size_t{2} << 20));
    if (!raw) continue;
    uintptr_t base = (reinterpret_cast<uintptr_t>(raw) + (size_t{2} << 20) - 1) & ~((size_t{2} << 20) - 1);
    void* tags = os::reserve(npages * sizeof(uint32_t));
    void* meta = os::reserve(npages * sizeof(RunMeta));
    if (!tags || !meta) {
      os::release(raw, size + (size_t{2} << 20));
      if (tags) os::release(tags, npages * sizeof(uint32_t));
      if (meta) os::release(meta, npages * sizeof(RunMeta));
      continue;
    }
    g_arena.meta = static_cast<RunMeta*>(meta);
    g_arena.npages = npages;
    g_heap.limit = limit ? (limit >> kPageShift < npages ? limit >> kPageShift : npages) : npages;
    // Transparent huge pages: fewer TLB misses, but purging a partly used
    // 2 MiB page splits it, and RSS grows in 2 MiB steps. Off by default.
    if (opt.hugepages) os::advise_hugepages(reinterpret_cast<void*>(base), size);
    g_pagemap.tags = static_cast<uint32_t*>(tags);
    g_pagemap.base = base;
    __atomic_store_n(&g_pagemap.size, size, __ATOMIC_RELEASE);
    return true;
  }
  return false;
}

RunMeta* alloc_span(size_t npages, size_t align_pages, bool* zeroed) {
  size_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
  LockGuard g(g_heap.lock);
  RunMeta* m = find_free(need);
  if (!m) {
    if (!grow(need)) return nullptr;
    m = find_free(need);
    if (!m) return nullptr;
  }
  list_remove(m);
  size_t page = page_of(m), n = m->npages;
  uint8_t dirty = m->dirty;
  if (align_pages > 1) {
    size_t abs = (g_pagemap.base >> kPageShift) + page;
    size_t front = (align_pages - (abs & (align_pages - 1))) & (align_pages - 1);
    if (front) {
      set_span(page, front, kSpanFree, dirty);
      list_insert(meta_of(page));
      page += front;
      n -= front;
    }
  }
  if (n > npages) {
    set_span(page + npages, n - npages, kSpanFree, dirty);
    list_insert(meta_of(page + npages));
  }
  set_span(page, npages, kSpanInUse, 0);
  g_heap.in_use += npages;
  note_peak();
  if (zeroed) *zeroed = !dirty;
  return meta_of(page);
}

void free_span(RunMeta* m) {
  size_t page = page_of(m), n = m->npages;
  HZ_CHECK(m->state == kSpanInUse, "page heap: freeing a span not in use");
  uint8_t dirty = 1;
  if ((n << kPageShift) >= kPurgeOnFreeBytes) {
    os::purge(page_addr(page), n << kPageShift);  // outside the lock: syscalls are slow
    dirty = 0;
    stats::add(stats::kPurgedBytes, n << kPageShift);
  }
  LockGuard g(g_heap.lock);
  g_heap.in_use -= n;
  insert_free(page, n, dirty);
  note_peak();
}

size_t purge(uint32_t now_ms, uint32_t min_age_ms) {
  size_t purged = 0;
  LockGuard g(g_heap.lock);
  auto purge_list = [&](RunMeta* head) {
    for (RunMeta* m = head; m; m = m->next) {
      if (!m->dirty || now_ms - m->since_ms < min_age_ms) continue;
      os::purge(page_addr(page_of(m)), size_t{m->npages} << kPageShift);
      m->dirty = 0;
      g_heap.dirty_free -= m->npages;
      purged += size_t{m->npages} << kPageShift;
    }
  };
  for (size_t i = 1; i <= kExact; ++i) purge_list(g_heap.exact[i]);
  purge_list(g_heap.big);
  stats::add(stats::kPurgedBytes, purged);
  return purged;
}

size_t pages_available() {
  LockGuard g(g_heap.lock);
  return g_heap.free_pages + (g_heap.limit - g_heap.top);
}

void lock() { g_heap.lock.lock(); }
void unlock() { g_heap.lock.unlock(); }
void reset_lock() { g_heap.lock.reset(); }

Usage usage() {
  LockGuard g(g_heap.lock);
  Usage u;
  u.in_use_bytes = g_heap.in_use << kPageShift;
  u.dirty_free_bytes = g_heap.dirty_free << kPageShift;
  u.mapped_bytes = u.in_use_bytes + u.dirty_free_bytes;
  u.mapped_peak_bytes = g_heap.mapped_peak << kPageShift;
  u.reserved_bytes = g_arena.npages << kPageShift;
  return u;
}

}  // namespace arena
}  // namespace hz
