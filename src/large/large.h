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
// moved: realloc copied it to a larger block; its pages are purged at once
// (a buffer grown step by step kept each step's old copy resident until the
// decay: python's lists, in steps of 1/8 up to 7.5 MB in the
// preload test; glibc's mremap keeps none).
void free(void* p, bool moved = false);
size_t usable_size(const void* p);
// realloc: a new block for a large block of old bytes that must move to
// hold size bytes, with room to grow in place (kReallocRoomPct).
void* alloc_moved(size_t old, size_t size);
// realloc: shrinks the span p starts (tagged kLargeClass) to hold size bytes
// (above kMaxSmallSize) in place; a tail of kShrinkMinPages and an eighth of
// the span or more goes back to the page heap like a freed block, unless
// size is one that realloc's room was given for.
void shrink_in_place(void* p, size_t size);
// realloc: grows the span p starts (tagged kLargeClass) to hold size bytes
// without moving it, if the pages after it are free. False: it did not.
bool grow_in_place(void* p, size_t size);

}  // namespace hz::large
