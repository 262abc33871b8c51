// The malloc fast path: size -> bin by the thread's table (t_sizes), pop the
// bin. No atomics, no locks; an empty bin is one call to a refill.
#pragma once
#include <errno.h>

#include "cache/thread_cache.h"
#include "check/free_key.h"
#include "large/large.h"

namespace hz {

// Pops b, a bin of this thread; refill() on an empty one (or on the empty
// region's unused bin).
template <typename Refill>
HZ_INLINE void* alloc_bin(Bin* b, Refill refill) {
  FreeBlock* blk = b->head;
  if (HZ_LIKELY(blk != nullptr)) {
    b->head = blk->next();
    b->room++;
    if (HZ_UNLIKELY(!take_in_use(blk, b->key))) return report_bad_free_list(blk);
    return blk;
  }
  return refill();
}

HZ_INLINE void* alloc_class(size_t cls) {
  return alloc_bin(t_sizes->by_class[cls], [cls] { return alloc_refill(cls); });
}

HZ_NOINLINE void* alloc_big(size_t size, bool zero);
// malloc above kLookupMax: a size class by its own table, else a page span.
// Apart from alloc_big so that it needs no stack frame (no memset after).
HZ_NOINLINE void* alloc_medium(size_t size);
// A block aligned to align (a power of two); ENOMEM on failure.
void* alloc_aligned(size_t align, size_t size);
// The size of the block or span p starts, 0 if p starts none.
size_t block_size(const void* p);

HZ_INLINE void* alloc(size_t size) {
  if (HZ_LIKELY(size <= kLookupMax)) {
    size_t index = size_index(size);
    return alloc_bin(t_sizes->by_size[index], [index] { return alloc_refill_size(index); });
  }
  return alloc_medium(size);
}

}  // namespace hz
