#include "shard/shard.h"

#include "stats/stats.h"

namespace hz {

constinit Shard g_shards[kShards];

namespace shard {
namespace {
constinit SpinLock g_registry;
}  // namespace

unsigned acquire() {
  LockGuard g(g_registry);
  // Least-loaded shard, lowest id first: a thread that replaces one that
  // exited inherits its warm runs and central lists instead of carving anew.
  unsigned best = 0;
  uint32_t best_load = g_shards[0].threads.load(std::memory_order_relaxed);
  for (unsigned s = 1; s < kShards && best_load != 0; ++s) {
    uint32_t load = g_shards[s].threads.load(std::memory_order_relaxed);
    if (load < best_load) best = s, best_load = load;
  }
  g_shards[best].threads.fetch_add(1, std::memory_order_relaxed);
  return best;
}

unsigned release(unsigned id) {
  LockGuard g(g_registry);
  return g_shards[id].threads.fetch_sub(1, std::memory_order_relaxed) - 1;
}

void excl_lock(unsigned id) {
  SpinLock& l = g_shards[id].excl;
  if (HZ_UNLIKELY(!l.try_lock())) {
    stats::add(stats::kOwnerExclWait, 1);
    l.lock();
  }
}

void excl_unlock(unsigned id) { g_shards[id].excl.unlock(); }

void lock_all() {
  g_registry.lock();
  for (auto& s : g_shards) s.excl.lock();
}

void unlock_all() {
  for (auto& s : g_shards) s.excl.unlock();
  g_registry.unlock();
}

void reset_in_child(unsigned my_shard) {
  // Only the forking thread survives in the child.
  for (auto& s : g_shards) {
    s.excl.reset();
    s.threads.store(0, std::memory_order_relaxed);
  }
  if (my_shard < kShards) g_shards[my_shard].threads.store(1, std::memory_order_relaxed);
  g_registry.reset();
}

}  // namespace shard
}  // namespace hz
