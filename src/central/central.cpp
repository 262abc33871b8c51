#include "central/central.h"

#include <string.h>

#include <atomic>

#include "cache/thread_cache.h"
#include "check/free_key.h"
#include "check/hardened.h"
#include "stats/stats.h"

namespace hz::central {
namespace {

// Hardened: an inaccessible page after a run stops an overflow that runs off
// the run's last block (the run's span holds it; its tag says "no block", so
// a free there is an invalid pointer). Only after runs of 8 pages or more
// (classes from 1 KiB): a page per run costs those at most an eighth, where
// the small classes' 1-4 page runs would need up to twice the memory and
// their mappings would run into the kernel's limit: each guard splits a
// mapping in two, and a process may have about 65 000. So the first
// kRunGuardMax runs get one and later runs none, leaving the rest to the
// program's own mappings and the large spans' guards.
constexpr unsigned kRunGuardMinPages = 8;
constexpr unsigned kRunGuardMax = 8192;
std::atomic<unsigned> g_run_guards{0};
unsigned guard_pages(const ClassInfo& ci) {
  if (!kHardened || ci.run_pages < kRunGuardMinPages) return 0;
  if (g_run_guards.load(std::memory_order_relaxed) >= kRunGuardMax) return 0;
  g_run_guards.fetch_add(1, std::memory_order_relaxed);
  return 1;
}

RunMeta* new_run(unsigned shard, unsigned cls) {
  const ClassInfo& ci = kClasses[cls];
  bool zeroed = false;
  unsigned guard = guard_pages(ci);
  RunMeta* m = arena::alloc_span(ci.run_pages + guard, 1, kHardened ? &zeroed : nullptr);
  if (!m) return nullptr;
  size_t page = arena::page_of(m);
  if (guard) {
    g_pagemap.tags[page + ci.run_pages] = make_tag(0);
    hardened::guard(arena::page_addr(page + ci.run_pages), kPageSize);
  }
  // Hardened: blocks are zero until handed out (checked then).
  if (kHardened && !zeroed) memset(arena::page_addr(page), 0, size_t{ci.run_pages} << kPageShift);
  PageTag tag = make_run_tag(cls, shard, reinterpret_cast<uintptr_t>(arena::page_addr(page)));
  for (unsigned i = 0; i < ci.run_pages; ++i) g_pagemap.tags[page + i] = tag;
  m->cls = static_cast<uint8_t>(cls);
  m->owner = static_cast<uint8_t>(shard);
  m->carved = 0;
  m->nfree = 0;
  m->free_list = nullptr;
  __atomic_store_n(&g_shards[shard].grown, g_shards[shard].grown + (size_t{ci.run_pages} << kPageShift), __ATOMIC_RELAXED);
  stats::add(stats::kRunNew, 1);
  return m;
}

}  // namespace

FreeBlock* carve(unsigned shard, unsigned cls, unsigned want, unsigned* got, FreeBlock** last) {
  const ClassInfo& ci = kClasses[cls];
  shard::excl_lock(shard);
  RunMeta*& run = g_shards[shard].carve[cls];
  if (!run || run->carved == ci.capacity) {
    run = new_run(shard, cls);
    if (!run) {
      shard::excl_unlock(shard);
      *got = 0;
      return nullptr;
    }
  }
  unsigned n = ci.capacity - run->carved;
  if (n > want) n = want;
  char* base = static_cast<char*>(arena::page_addr(arena::page_of(run))) + size_t{run->carved} * ci.size;
  run->carved += n;
  shard::excl_unlock(shard);
  // Link the new blocks outside the lock: nobody else can see them yet. Each
  // gets its free key like any free block, so that freeing one twice is
  // caught even before its first hand-out (a stale pointer into a run that
  // was released and carved again).
  if constexpr (kHardened) {
    *got = n;
    return hardened::shuffle_carved(base, n, cls, last);
  }
  FreeBlock* head = reinterpret_cast<FreeBlock*>(base);
  FreeBlock* b = head;
  for (unsigned i = 1; i < n; ++i) {
    FreeBlock* nb = reinterpret_cast<FreeBlock*>(reinterpret_cast<char*>(b) + ci.size);
    b->set_next(nb);
    if constexpr (kFreeKey) b->key = free_key(b, cls);
    b = nb;
  }
  b->set_next(nullptr);
  if constexpr (kFreeKey) b->key = free_key(b, cls);
  *got = n;
  *last = b;
  return head;
}

}  // namespace hz::central
