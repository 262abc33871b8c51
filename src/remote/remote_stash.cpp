#include "remote/remote_stash.h"

#include "budget/budget.h"
#include "shard/shard.h"
#include "stats/stats.h"

namespace hz {
namespace {

// Classes of one owner are adjacent; owners are spread by an odd stride so that
// a handful of busy owners rarely share slots.
HZ_INLINE unsigned slot_of(unsigned cls, unsigned owner) { return (owner * 53u + cls) & (kRemoteSlots - 1); }

void note_arrival(Shard& sh) {
  if (!sh.arrived.load(std::memory_order_relaxed)) sh.arrived.store(1, std::memory_order_relaxed);
}

void publish(RemoteGroup& g) {
  unsigned owner = g.key >> 8, cls = g.key & 0xFF;
  push_batch(g_shards[owner].stash[cls], g.head, g.tail, g.count, cls);
  note_arrival(g_shards[owner]);
  stats::add(stats::kStashPush, 1);
  stats::add(stats::kRemoteFlush, 1);
  stats::add(stats::kRemoteFlushBlocks, g.count);
  g.head = g.tail = nullptr;
  g.count = 0;
  budget::note_remote_frees();
}

}  // namespace

void remote_stash_init(RemoteStash& rs) {
  // Zero is the empty state (kNoKey == 0): a fresh cache's pages stay untouched.
  HZ_CHECK(rs.pending == 0 && rs.pending_bytes == 0 && rs.groups[0].key == RemoteStash::kNoKey, "remote stash not zeroed");
  (void)rs;
}

void remote_stash_add(RemoteStash& rs, FreeBlock* b, unsigned cls, unsigned owner) {
  if constexpr (!kRemoteStash) {
    remote_push_one(b, cls, owner);
    return;
  }
  uint32_t key = owner << 8 | cls;
  RemoteGroup& g = rs.groups[slot_of(cls, owner)];
  if (HZ_UNLIKELY(g.key != key)) {
    if (g.count) {
      rs.pending_bytes -= g.count * size_t{kClasses[g.key & 0xFF].size};
      publish(g);
      --rs.pending;
    }
    g.key = key;
  }
  b->set_next(g.head);
  if (!g.head) {
    g.tail = b;
    ++rs.pending;
  }
  g.head = b;
  size_t size = kClasses[cls].size;
  rs.pending_bytes += size;
  if (HZ_UNLIKELY(++g.count >= kRemoteFlushThreshold || g.count * size >= kRemoteGroupMaxBytes)) {
    rs.pending_bytes -= g.count * size;
    publish(g);
    --rs.pending;
  }
  // Bound what one thread keeps from the owners, whatever the spread of
  // destinations.
  if (HZ_UNLIKELY(rs.pending_bytes > kRemoteStashMaxBytes)) remote_stash_flush(rs);
}

void remote_stash_flush(RemoteStash& rs) {
  if (rs.pending == 0) return;
  for (auto& g : rs.groups)
    if (g.count) publish(g);
  rs.pending = 0;
  rs.pending_bytes = 0;
}

void remote_push_one(FreeBlock* b, unsigned cls, unsigned owner) {
  push_batch(g_shards[owner].stash[cls], b, b, 1, cls);
  note_arrival(g_shards[owner]);
  stats::add(stats::kStashPush, 1);
}

}  // namespace hz
