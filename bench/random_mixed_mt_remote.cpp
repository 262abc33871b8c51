// random_mixed_mt_remote T ITERS WS MIN MAX R [RING]
//
// T threads; each performs ITERS operations on its own WS slots. An operation
// picks a random slot: an empty slot gets malloc(size), size uniform in
// [MIN, MAX]; a full slot is freed. R percent of the frees are remote: the
// block is pushed into the inbox ring (capacity RING, MPSC, lock-free, mmap'd)
// of another random thread, which verifies and frees it. When that ring is full
// the block is freed locally and counted as a fallback. The sender verifies the
// block's stamps before handing it off; the receiver re-checks the first line
// (reading the tail too would add a cache miss per remote free that belongs to
// the rig, not to the allocator). Every thread drains its inbox every 32
// operations and, when done, until all threads are done.
//
// ops counted = ITERS per thread (each op is one malloc or one free).
#include <algorithm>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

struct alignas(64) ThreadStats {
  uint64_t remote_sent = 0;
  uint64_t remote_freed = 0;
  uint64_t fallbacks = 0;
  double end_sec = 0;
};

struct Config {
  int threads;
  uint64_t iters, ws, min, max, remote_pct, ring;
};

MpscRing* g_inbox;
std::atomic<int> g_done{0};

uint64_t drain(MpscRing& in) {
  uint64_t n = 0;
  while (void* p = in.pop()) {
    verify_head(p);  // the sender ran the full verify(); only re-check its first line
    std::free(p);
    ++n;
  }
  return n;
}

void worker(const Config& c, int id, StartGate& gate, ThreadStats& st) {
  std::vector<void*> slots(c.ws, nullptr);  // set up before the gate
  std::vector<uint32_t> sizes(c.ws, 0);
  Rng rng(0x1234567ULL * (id + 1));
  MpscRing& inbox = g_inbox[id];
  gate.arrive_and_wait();

  for (uint64_t i = 0; i < c.iters; ++i) {
    if ((i & 31) == 0) st.remote_freed += drain(inbox);
    uint64_t s = rng.below(c.ws);
    if (slots[s] == nullptr) {
      size_t n = rng.range(c.min, c.max);
      slots[s] = alloc_stamped(n);
      sizes[s] = (uint32_t)n;
      continue;
    }
    void* p = slots[s];
    slots[s] = nullptr;
    if (c.threads > 1 && c.remote_pct && rng.percent(c.remote_pct)) {
      verify(p, sizes[s]);  // full check here, while the block is hot in this core's cache
      int to = (int)rng.below(c.threads - 1);
      if (to >= id) ++to;
      if (g_inbox[to].push(p)) {
        ++st.remote_sent;
        continue;
      }
      ++st.fallbacks;
    }
    free_verified(p, sizes[s]);
  }
  // Done producing: keep freeing what others send until everyone is done.
  g_done.fetch_add(1);
  while (g_done.load() < c.threads) {
    uint64_t n = drain(inbox);
    st.remote_freed += n;
    if (n == 0) std::this_thread::yield();
  }
  st.remote_freed += drain(inbox);
  for (uint64_t s = 0; s < c.ws; ++s)
    if (slots[s]) free_verified(slots[s], sizes[s]);
  st.end_sec = gate.seconds_since_open();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s T ITERS WS MIN MAX R [RING]\n", argv[0]);
    return 1;
  }
  Config c;
  c.threads = (int)arg_u64(argc, argv, 1, 1);
  c.iters = arg_u64(argc, argv, 2, 0);
  c.ws = arg_u64(argc, argv, 3, 0);
  c.min = arg_u64(argc, argv, 4, 16);
  c.max = arg_u64(argc, argv, 5, 16);
  c.remote_pct = arg_u64(argc, argv, 6, 0);
  c.ring = round_pow2(arg_u64(argc, argv, 7, 65536));
  if (c.threads < 1 || c.ws < 1 || c.min < 16 || c.max < c.min || c.remote_pct > 100 || c.ring < 2)
    die("bad arguments (need T>=1, WS>=1, 16<=MIN<=MAX, 0<=R<=100)");

  g_inbox = rig_alloc<MpscRing>(c.threads);
  for (int t = 0; t < c.threads; ++t) g_inbox[t].init(c.ring);
  std::vector<ThreadStats> stats(c.threads);
  StartGate gate(c.threads);
  std::vector<std::thread> th;
  for (int t = 0; t < c.threads; ++t) th.emplace_back(worker, std::cref(c), t, std::ref(gate), std::ref(stats[t]));
  gate.open();
  for (auto& t : th) t.join();

  double secs = 0;
  uint64_t sent = 0, freed = 0, fallbacks = 0;
  for (auto& s : stats) {
    secs = std::max(secs, s.end_sec);
    sent += s.remote_sent;
    freed += s.remote_freed;
    fallbacks += s.fallbacks;
  }
  if (sent != freed) die("remote frees lost: sent %" PRIu64 ", freed %" PRIu64, sent, freed);
  for (int t = 0; t < c.threads; ++t) g_inbox[t].destroy();

  char extra[256];
  std::snprintf(extra, sizeof extra, "threads=%d remote_pct=%" PRIu64 " remote_frees=%" PRIu64 " fallbacks=%" PRIu64,
                c.threads, c.remote_pct, sent, fallbacks);
  print_result("random_mixed_mt_remote", double(c.iters) * c.threads, secs, extra);
  std::printf("%d threads x %" PRIu64 " ops, WS %" PRIu64 ", sizes %" PRIu64 "-%" PRIu64
              ", %" PRIu64 "%% remote: %.2f M ops/s, %" PRIu64 " remote frees, %" PRIu64 " fallbacks\n",
              c.threads, c.iters, c.ws, c.min, c.max, c.remote_pct, double(c.iters) * c.threads / secs / 1e6, sent,
              fallbacks);
  return 0;
}
