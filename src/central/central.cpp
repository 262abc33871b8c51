#include "central/central.h"

#include <string.h>

#include "check/free_key.h"
#include "check/hardened.h"
#include "stats/stats.h"

namespace hz::central {
namespace {

RunMeta* new_run(unsigned shard, unsigned cls) {
  const ClassInfo& ci = kClasses[cls];
  bool zeroed = false;
  RunMeta* m = arena::alloc_span(ci.run_pages, 1, kHardened ? &zeroed : nullptr);
  if (!m) return nullptr;
  size_t page = arena::page_of(m);
  // Hardened: blocks are zero until handed out (checked then).
  if (kHardened && !zeroed) memset(arena::page_addr(page), 0, size_t{ci.run_pages} << kPageShift);
  for (unsigned i = 0; i < ci.run_pages; ++i) g_pagemap.tags[page + i] = make_tag(cls, shard, i);
  m->cls = static_cast<uint8_t>(cls);
  m->owner = static_cast<uint8_t>(shard);
  m->carved = 0;
  m->nfree = 0;
  m->free_list = nullptr;
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
    return hardened::shuffle_carved(base, n, ci.size, last);
  }
  FreeBlock* head = reinterpret_cast<FreeBlock*>(base);
  FreeBlock* b = head;
  for (unsigned i = 1; i < n; ++i) {
    FreeBlock* nb = reinterpret_cast<FreeBlock*>(reinterpret_cast<char*>(b) + ci.size);
    b->next = nb;
    if constexpr (kFreeKey) b->key = free_key(b);
    b = nb;
  }
  b->next = nullptr;
  if constexpr (kFreeKey) b->key = free_key(b);
  *got = n;
  *last = b;
  return head;
}

}  // namespace hz::central
