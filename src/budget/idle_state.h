// The purger's per-cache state for idle return (budget/idle_return.h). Kept
// in ThreadCache; only the purger and the thread's own set-up and teardown
// touch it, under lock.
#pragma once
#include <cstdint>

#include "common/base.h"

namespace hz {

struct BinTables;
struct ThreadCache;

struct IdleState {
  SpinLock lock;          // held by an attempt to take the cache, and by detach()
  BinTables** sizes;      // the owner's t_sizes and t_bins; nullptr: not takeable
  char** bins;
  ThreadCache** cache;    // the owner's t_cache: still this cache at an attempt
  uint8_t* switched;      // the owner's t_switched_context: never taken once set
  uintptr_t stack_top;    // the owner's stack ends below this; 0: unknown
  uint64_t sig;           // what the cache held at the last look; 0: nothing
  uint32_t since_ms;      // when sig last changed
  uint32_t tried;         // the pass that last attempted it
  uint32_t refused;       // attempts refused since sig last changed
};

}  // namespace hz
