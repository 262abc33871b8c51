// Large blocks (above kMaxSmallSize, or aligned beyond a page): page spans
// straight from the page heap. Freed, they stay there dirty for reuse within
// a bound until the purge delay returns them (large keep, arena/keep.h);
// calloc zeroes only the pages that may be dirty.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/base.h"

namespace hz::large {

// nullptr with errno = ENOMEM when it cannot be had.
void* alloc(size_t size, size_t align, bool zero);
// p is the first byte of a span tagged kLargeClass (checked by the caller).
void free(void* p);
size_t usable_size(const void* p);

}  // namespace hz::large
