// Spill (S112): what a full drain of an owner stash or central list brings
// beyond the request stays in the thread: first spill_array (whole batches,
// one per slot, up to kSpillCap blocks per class), then the untouched
// remainder, a chain of batches, in spill_overflow[class]. It is never pushed
// back and never walked; the owner takes from spill before touching the
// shared lists again.
#pragma once
#include <cstdint>

#include "arena/arena.h"
#include "size_class/size_class.h"

namespace hz {

struct Spill {
  FreeBlock* overflow[kNumClasses];
  uint16_t n[kNumClasses];
  FreeBlock* array[kNumClasses][kSpillCap > 0 ? kSpillCap : 1];
};

}  // namespace hz
