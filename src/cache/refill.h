// Refill and the bounded list walks (refill.cpp), for the rest of the thread
// cache (thread_cache.cpp). Slow paths only.
#pragma once
#include "cache/thread_cache.h"

namespace hz {

// Fills tc's empty bin of cls: spill, shard lists, borrow, carve, exhaustion.
void refill(ThreadCache* tc, unsigned cls);
// A block of cls from tc's bin, refilling it first if empty; ENOMEM if none.
void* pop_or_refill(ThreadCache* tc, unsigned cls);
// Slow start: doubles a bin's limit towards its class's bin_max; true while
// it is still growing.
bool slow_start_grow(Bin& b, unsigned cls);
// The last block of a bin (exactly count blocks) or of a chain of batches;
// a cycle or a count mismatch is reported as heap corruption, never walked
// forever.
FreeBlock* bin_tail(const Bin& b);
FreeBlock* chain_tail(FreeBlock* chain, unsigned cls);

}  // namespace hz
