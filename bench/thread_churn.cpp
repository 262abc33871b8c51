// thread_churn MODE CONC N
//
// Thread set-up and teardown cost: N threads, CONC at a time (created, then
// all joined, then the next CONC), each living only long enough to make a few
// allocations. What is measured is the allocator's per-thread cost (cache
// set-up, first refills, teardown) on top of pthread_create/join.
//   none   the thread allocates nothing: the floor (pthread_create + join)
//   local  8 mallocs of mixed small sizes (16 B-1 KiB), stamped, verified
//          and freed by the thread itself
//   half   the same 8 mallocs; the thread frees 4 and leaves 4 to the main
//          thread, which verifies and frees them after the join (remote frees
//          of blocks whose owner thread is gone)
// Prints ns per thread lifetime (ns_per_thread); ops = threads.
#include <pthread.h>

#include <algorithm>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr int kBlocks = 8;
constexpr int kMaxConc = 64;
constexpr size_t kSizes[kBlocks] = {16, 48, 24, 96, 200, 64, 512, 1000};

enum Mode { kNone, kLocal, kHalf };

struct Worker {
  pthread_t th;
  Mode mode;
  uint64_t index;
  void* left[kBlocks / 2];  // blocks the main thread frees after the join (half)
};

void* run(void* arg) {
  Worker* w = static_cast<Worker*>(arg);
  if (w->mode == kNone) return nullptr;
  void* p[kBlocks];
  // Sizes rotate with the thread index so that consecutive threads start on
  // different classes, as real thread pools would.
  for (int i = 0; i < kBlocks; ++i) p[i] = alloc_stamped(kSizes[(i + w->index) % kBlocks]);
  for (int i = 0; i < kBlocks; ++i) verify(p[i], kSizes[(i + w->index) % kBlocks]);
  for (int i = 0; i < kBlocks; ++i) {
    if (w->mode == kHalf && i % 2) w->left[i / 2] = p[i];
    else free_verified(p[i]);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s none|local|half CONC N\n", argv[0]);
    return 1;
  }
  const std::string m = argv[1];
  Mode mode = m == "none" ? kNone : m == "local" ? kLocal : m == "half" ? kHalf : (die("bad mode '%s'", argv[1]), kNone);
  int conc = (int)arg_u64(argc, argv, 2, 1);
  uint64_t n = arg_u64(argc, argv, 3, 1000);
  if (conc < 1 || conc > kMaxConc || n < 1) die("bad arguments");
  Worker* w = rig_alloc<Worker>(kMaxConc);
  uint64_t leftover = 0;

  auto t0 = Clock::now();
  for (uint64_t done = 0; done < n;) {
    int k = (int)std::min<uint64_t>(conc, n - done);
    for (int t = 0; t < k; ++t) {
      w[t].mode = mode;
      w[t].index = done + t;
      if (pthread_create(&w[t].th, nullptr, run, &w[t]) != 0) die("pthread_create failed");
    }
    for (int t = 0; t < k; ++t) {
      if (pthread_join(w[t].th, nullptr) != 0) die("pthread_join failed");
      if (mode != kHalf) continue;
      for (int i = 0; i < kBlocks / 2; ++i) {
        free_verified(w[t].left[i], kSizes[(2 * i + 1 + w[t].index) % kBlocks]);
        ++leftover;
      }
    }
    done += k;
  }
  double secs = seconds_since(t0);
  if (mode == kHalf && leftover != n * (kBlocks / 2)) die("lost blocks: %" PRIu64 " freed by main", leftover);

  char extra[96];
  std::snprintf(extra, sizeof extra, "ns_per_thread=%.0f mode=%s conc=%d", secs * 1e9 / double(n), argv[1], conc);
  print_result("thread_churn", double(n), secs, extra);
  std::printf("thread_churn %s: %" PRIu64 " threads, %d at a time: %.0f ns per thread\n", argv[1], n, conc,
              secs * 1e9 / double(n));
  rig_free(w, kMaxConc);
  return 0;
}
