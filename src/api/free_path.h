// The free fast path: one range compare, one pagemap load, the class's
// divisibility check (catches interior pointers), an owner compare, push.
// Everything else is one out-of-line call:
//   - not in the arena (or null)      -> free_outside()
//   - a page span or no block here    -> free_span_or_invalid()
//   - owned by another shard          -> free_remote()   (remote/remote_stash)
//   - bin over its limit              -> flush_bin()     (to central)
#pragma once
#include "cache/thread_cache.h"
#include "pagemap/pagemap.h"
#include "shard/shard.h"

namespace hz {

HZ_NOINLINE void free_outside(void* p, const char* call);
HZ_NOINLINE void free_span_or_invalid(void* p, uint32_t tag, const char* call);

HZ_INLINE void dealloc(void* p) {
  uintptr_t off = arena_offset(p);
  if (HZ_UNLIKELY(off >= g_pagemap.size)) return free_outside(p, "free");
  uint32_t tag = tag_at(off);
  unsigned cls = tag_class(tag);
  if (HZ_UNLIKELY(cls - 1u >= kNumClasses - 1u)) return free_span_or_invalid(p, tag, "free");
  uint64_t run_off = (uint64_t{tag_page_in_run(tag)} << kPageShift) | (off & (kPageSize - 1));
  uint64_t magic = kClasses[cls].div_magic;
  if (HZ_UNLIKELY(run_off * magic >= magic)) invalid_pointer("free", p);
  ThreadCache* tc = t_cache;
  FreeBlock* b = static_cast<FreeBlock*>(p);
  if (HZ_UNLIKELY(tag_owner(tag) != tc->shard)) return free_remote(tc, b, cls, tag_owner(tag));
  Bin& bin = tc->bins[cls];
  b->next = bin.head;
  bin.head = b;
  if (HZ_UNLIKELY(++bin.count > bin.max)) flush_bin(tc, cls);
}

}  // namespace hz
