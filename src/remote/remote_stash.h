// RemoteStash: frees of blocks owned by other shards, grouped in the thread by
// destination (owner, class) and handed over as whole lists. Remote pushes
// are dominated by lists of length 1 without grouping; with it, one CAS
// carries up to kRemoteFlushThreshold blocks.
#pragma once
#include <array>
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
// Publishes every group.
void remote_stash_flush(RemoteStash& rs);
// Hands one block straight to its owner (no thread cache needed).
void remote_push_one(FreeBlock* b, unsigned cls, unsigned owner);

namespace detail {
// Classes of one owner are adjacent; owners are spread by an odd stride so that
// a handful of busy owners rarely share slots.
HZ_INLINE unsigned slot_of(unsigned cls, unsigned owner) { return (owner * 53u + cls) & (kRemoteSlots - 1); }
// Blocks of a class a group holds before it is published: kRemoteFlushThreshold,
// or fewer so that a group stays within kRemoteGroupMaxBytes.
inline constexpr auto kGroupLimit = [] {
  std::array<uint32_t, kNumClasses> t{};
  for (unsigned c = 1; c < kNumClasses; ++c) {
    size_t by_bytes = (kRemoteGroupMaxBytes + kClasses[c].size - 1) / kClasses[c].size;
    t[c] = static_cast<uint32_t>(by_bytes < kRemoteFlushThreshold ? by_bytes : kRemoteFlushThreshold);
  }
  return t;
}();
// The slot holds another destination's blocks: publishes them, takes the slot
// for owner/cls and adds b (a tail call from remote_stash_add, whose common
// case then keeps nothing live across a call: no registers saved).
HZ_NOINLINE void remote_stash_add_retarget(RemoteStash& rs, FreeBlock* b, unsigned cls, unsigned owner);
// The group is full, or the whole stash over its byte bound: publishes.
HZ_NOINLINE void remote_stash_full(RemoteStash& rs, RemoteGroup& g);

// b onto g, the group of its destination; publishes when g is full or the
// stash over its bound.
HZ_INLINE void remote_group_add(RemoteStash& rs, RemoteGroup& g, FreeBlock* b, unsigned cls) {
  b->set_next(g.head);
  if (!g.head) {
    g.tail = b;
    ++rs.pending;
  }
  g.head = b;
  rs.pending_bytes += kClasses[cls].size;
  // Bound what one thread keeps from the owners, whatever the spread of
  // destinations.
  if (HZ_UNLIKELY(++g.count >= kGroupLimit[cls] || rs.pending_bytes > kRemoteStashMaxBytes)) remote_stash_full(rs, g);
}
}  // namespace detail

// Adds b (owned by owner, of class cls) to the stash; publishes a group when
// it is full or when its slot is needed by another destination. Inline: it
// is the whole of a remote free's work on the freeing side.
HZ_INLINE void remote_stash_add(RemoteStash& rs, FreeBlock* b, unsigned cls, unsigned owner) {
  if constexpr (!kRemoteStash) {
    remote_push_one(b, cls, owner);
    return;
  }
  uint32_t key = owner << 8 | cls;
  RemoteGroup& g = rs.groups[detail::slot_of(cls, owner)];
  if (HZ_UNLIKELY(g.key != key)) return detail::remote_stash_add_retarget(rs, b, cls, owner);
  detail::remote_group_add(rs, g, b, cls);
}

}  // namespace hz
