// The malloc fast path: size -> class by table, pop the thread's bin. No
// atomics, no locks; an empty bin is one call to alloc_refill().
#pragma once
#include <errno.h>

#include "cache/thread_cache.h"
#include "large/large.h"

namespace hz {

HZ_INLINE void* alloc_class(unsigned cls) {
  ThreadCache* tc = t_cache;
  Bin& b = tc->bins[cls];
  FreeBlock* blk = b.head;
  if (HZ_LIKELY(blk != nullptr)) {
    b.head = blk->next;
    b.count--;
    return blk;
  }
  return alloc_refill(cls);
}

HZ_NOINLINE void* alloc_big(size_t size, bool zero);

HZ_INLINE void* alloc(size_t size) {
  if (HZ_LIKELY(size <= kLookupMax)) return alloc_class(kClassLookup[(size + 15) >> 4]);
  return alloc_big(size, false);
}

}  // namespace hz
