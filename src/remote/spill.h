// Spill (S112): what a full drain of an owner stash or central list brings
// beyond the request. Whole batches go to the thread's spill array, bounded in
// blocks (kSpillCap) and bytes (kSpillMaxBytes) per class; the untouched
// remainder, a chain of batches, stays in the shard (Shard::drained), where
// reclaim, the decay and the exhaustion sequence can reach it even while the
// thread idles. It is never pushed back and never walked; the owner takes
// from spill before touching the shared lists again.
#pragma once
#include <cstdint>

#include "arena/arena.h"
#include "size_class/size_class.h"

namespace hz {

struct Spill {
  uint16_t n[kNumClasses];      // batches stored in array[cls][0, n)
  uint16_t first[kNumClasses];  // ... of which [first, n) are still there
  FreeBlock* array[kNumClasses][kSpillCap > 0 ? kSpillCap : 1];
};

}  // namespace hz
