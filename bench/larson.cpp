// larson SECONDS T MIN MAX CHUNKS ROUNDS
//
// Server simulation after Larson & Krishnan ("Memory allocation for long-running
// server applications", ISMM '98), rewritten from the description.
// T lineages of threads. Each lineage owns a set of CHUNKS blocks (sizes uniform
// in [MIN, MAX]). The thread of a lineage repeatedly picks a random block,
// verifies and frees it, and allocates a new one in its place. After
// ROUNDS * CHUNKS replacements the thread starts a successor thread, hands it
// the set and exits; the successor frees blocks its predecessor allocated.
// Runs for SECONDS of wall time; throughput = replacements (1 malloc + 1 free)
// per second, counted as 2 ops each.
#include <pthread.h>

#include <algorithm>
#include <new>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

struct Lineage {
  void** blocks;
  uint32_t* sizes;
  uint64_t chunks, min, max, per_thread;
  Rng rng{1};
  uint64_t replacements = 0;
  uint64_t generations = 0;
};

std::atomic<bool> g_stop{false};
std::atomic<int> g_live{0};  // lineages still running

void* lineage_thread(void* arg) {
  auto* L = static_cast<Lineage*>(arg);
  uint64_t done = 0;
  for (; done < L->per_thread; ++done) {
    if ((done & 63) == 0 && g_stop.load(std::memory_order_relaxed)) break;
    uint64_t i = L->rng.below(L->chunks);
    free_verified(L->blocks[i], L->sizes[i]);
    size_t n = L->rng.range(L->min, L->max);
    L->blocks[i] = alloc_stamped(n);
    L->sizes[i] = (uint32_t)n;
  }
  L->replacements += done;
  ++L->generations;
  if (!g_stop.load()) {
    pthread_t next;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&next, &attr, lineage_thread, L);
    pthread_attr_destroy(&attr);
    if (rc != 0) die("pthread_create failed (%d)", rc);
  } else {
    g_live.fetch_sub(1);
    g_live.notify_all();
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s SECONDS T MIN MAX CHUNKS ROUNDS\n", argv[0]);
    return 1;
  }
  double seconds = arg_f64(argc, argv, 1, 1.0);
  int threads = (int)arg_u64(argc, argv, 2, 1);
  uint64_t min = arg_u64(argc, argv, 3, 16), max = arg_u64(argc, argv, 4, 16);
  uint64_t chunks = arg_u64(argc, argv, 5, 1), rounds = arg_u64(argc, argv, 6, 1);
  if (threads < 1 || min < 16 || max < min || chunks < 1 || rounds < 1) die("bad arguments");

  // Lineage state lives in rig memory; the initial blocks are allocated before timing.
  auto* lin = rig_alloc<Lineage>(threads);
  for (int t = 0; t < threads; ++t) {
    Lineage& L = *new (&lin[t]) Lineage{};
    L.blocks = rig_alloc<void*>(chunks);
    L.sizes = rig_alloc<uint32_t>(chunks);
    L.chunks = chunks;
    L.min = min;
    L.max = max;
    L.per_thread = rounds * chunks;
    L.rng = Rng(0x5eed0000ULL + t);
    for (uint64_t i = 0; i < chunks; ++i) {
      size_t n = L.rng.range(min, max);
      L.blocks[i] = alloc_stamped(n);
      L.sizes[i] = (uint32_t)n;
    }
  }

  g_live.store(threads);
  auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, lineage_thread, &lin[t]) != 0) die("pthread_create failed");
    pthread_attr_destroy(&attr);
  }
  timespec ts{(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
  nanosleep(&ts, nullptr);
  g_stop.store(true);
  for (int live = g_live.load(); live > 0; live = g_live.load()) g_live.wait(live);
  double secs = seconds_since(t0);

  uint64_t repl = 0, gens = 0;
  for (int t = 0; t < threads; ++t) {
    repl += lin[t].replacements;
    gens += lin[t].generations;
    for (uint64_t i = 0; i < chunks; ++i) free_verified(lin[t].blocks[i], lin[t].sizes[i]);
  }
  char extra[128];
  std::snprintf(extra, sizeof extra, "threads=%d generations=%" PRIu64, threads, gens);
  print_result("larson", 2.0 * double(repl), secs, extra);
  std::printf("larson: %d lineages, %" PRIu64 " thread generations, %.2f M replacements/s\n", threads, gens,
              double(repl) / secs / 1e6);
  return 0;
}
