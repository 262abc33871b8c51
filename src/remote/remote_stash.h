// RemoteStash: frees of blocks owned by other shards, grouped in the thread by
// destination (owner, class) and handed over as whole lists. Remote pushes
// are dominated by lists of length 1 without grouping; with it, one CAS
// carries up to kRemoteFlushThreshold blocks.
#pragma once
#include <cstdint>

#include "arena/arena.h"
#include "size_class/size_class.h"

namespace hz {

struct RemoteGroup {
  FreeBlock* head;
  FreeBlock* tail;
  uint32_t count;
  uint32_t key;  // owner << 8 | class; kNoKey when empty
};

// Zero-initialised memory is an empty stash.
struct RemoteStash {
  static constexpr uint32_t kNoKey = 0;  // no real key: class 0 is never a block's
  RemoteGroup groups[kRemoteSlots];
  uint32_t pending;       // groups holding blocks
  size_t pending_bytes;   // bytes in all groups: memory other threads cannot reuse yet
};

// Checks (debug builds) that rs is zeroed: the empty state.
void remote_stash_init(RemoteStash& rs);
// Adds b (owned by owner, of class cls) to the stash; publishes a group when
// it is full or when its slot is needed by another destination.
void remote_stash_add(RemoteStash& rs, FreeBlock* b, unsigned cls, unsigned owner);
// Publishes every group.
void remote_stash_flush(RemoteStash& rs);
// Hands one block straight to its owner (no thread cache needed).
void remote_push_one(FreeBlock* b, unsigned cls, unsigned owner);

}  // namespace hz
