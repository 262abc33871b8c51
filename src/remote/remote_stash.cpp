#include "remote/remote_stash.h"

#include "budget/budget.h"
#include "budget/idle_return.h"
#include "shard/shard.h"
#include "stats/stats.h"

namespace hz {
namespace {

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

namespace detail {

// The two ways out of the inline remote free (free_remote, on its own
// thread's stash) into code that publishes: a slow path on the cache like
// any other (idle::Busy). publish() wakes an idle purger through libc's
// syscall(): a handler that lands there, or an interposed syscall(), may
// sleep with the stash half updated (a group published, --pending not yet
// done); a cache taken then had pending wrap, and the next remote free left
// it at 0 with a group holding a block, which no flush (trim, teardown, the
// purger's) then published. Both are entered with the stash consistent, so
// waiting here for a take under way is safe.
void remote_stash_add_retarget(RemoteStash& rs, FreeBlock* b, unsigned cls, unsigned owner) {
  idle::Busy busy(t_cache);
  RemoteGroup& g = rs.groups[slot_of(cls, owner)];
  if (g.count) {
    rs.pending_bytes -= g.count * size_t{kClasses[g.key & 0xFF].size};
    publish(g);
    --rs.pending;
  }
  g.key = owner << 8 | cls;
  remote_group_add(rs, g, b, cls);
}

void remote_stash_full(RemoteStash& rs, RemoteGroup& g) {
  idle::Busy busy(t_cache);
  if (g.count >= kGroupLimit[g.key & 0xFF]) {
    rs.pending_bytes -= g.count * size_t{kClasses[g.key & 0xFF].size};
    publish(g);
    --rs.pending;
  }
  if (rs.pending_bytes > kRemoteStashMaxBytes) remote_stash_flush(rs);
}

}  // namespace detail

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
