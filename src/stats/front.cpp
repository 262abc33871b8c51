// The counting front's slow path. A thread behind a counting front (set up
// when HAKOZUNA_STATS or HAKOZUNA_PROFILE is on, or under memcheck: see
// thread_setup) sends every malloc and free here, where it is counted,
// profiled and described to memcheck, then done on its real cache. Page spans
// (large blocks) take slow paths anyway: they come here whoever frees them.
#include "cache/refill.h"
#include "stats/profile.h"
#include "stats/stats.h"
#include "track/memcheck.h"

namespace hz::stats {

void* front_alloc(ThreadCache* front, unsigned cls) {
  front->n_alloc++;
  void* p = pop_or_refill(front->real, cls);
  if (HZ_LIKELY(p != nullptr)) {
    profile::on_alloc(cls);
    track::on_alloc(p, kClasses[cls].size);
  }
  return p;
}

void front_free(ThreadCache* front, FreeBlock* b, unsigned cls, unsigned owner) {
  front->n_free++;
  profile::on_free(cls, owner != front->real->shard);
  track::on_free(b, kClasses[cls].size);
}

void front_exit() { profile::on_thread_exit(); }

void span_alloc(void* p, size_t bytes, bool zeroed) {
  profile::on_large(bytes, true);
  track::on_alloc_span(p, bytes, zeroed);
}

void span_free(void* p, size_t bytes) {
  profile::on_large(bytes, false);
  track::on_free_span(p);
}

}  // namespace hz::stats
