#include "central/central.h"

#include "stats/stats.h"

namespace hz::central {
namespace {

RunMeta* new_run(unsigned shard, unsigned cls) {
  const ClassInfo& ci = kClasses[cls];
  RunMeta* m = arena::alloc_span(ci.run_pages, 1, nullptr);
  if (!m) return nullptr;
  size_t page = arena::page_of(m);
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
  // Link the new blocks outside the lock: nobody else can see them yet.
  FreeBlock* head = reinterpret_cast<FreeBlock*>(base);
  FreeBlock* b = head;
  for (unsigned i = 1; i < n; ++i) {
    FreeBlock* nb = reinterpret_cast<FreeBlock*>(reinterpret_cast<char*>(b) + ci.size);
    b->next = nb;
    b = nb;
  }
  b->next = nullptr;
  *got = n;
  *last = b;
  return head;
}

}  // namespace hz::central
