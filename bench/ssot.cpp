// ssot MODE T ITERS WS
//
// Single-process, per-thread random alloc/free over a working set. T threads,
// each with its own slots (no sharing between threads); each of ITERS steps
// picks a random slot, verifies and frees the block in it (if any) and puts a
// fresh stamped block of a size drawn from MODE's distribution in its place.
//
// MODE           sizes                                         slots
// small          uniform 16 B .. 2 KiB                         WS
// medium         uniform 4 KiB .. 32 KiB                       WS
// big            uniform 32 KiB .. 256 KiB (a run per block)   WS
// mixed          uniform 16 B .. 32 KiB                        WS
// dist_app       app-like: 70% 16-128 B, 22% 129 B-1 KiB,      64 short-lived +
//                7.9% 1-32 KiB, 0.1% 64 KiB-1 MiB              WS long-lived
// dist_uniform   uniform 16 B .. 32 KiB                        64 short + WS long
//
// dist_*: 90% of steps replace a block in the 64 short-lived slots, 10% one in
// the WS long-lived slots, so lifetimes are mixed (short ~70 steps, long ~10*WS).
// dist_uniform is dist_app's control: same lifetimes, flat sizes.
//
// ops counted = malloc calls + free calls.
#include <algorithm>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

enum class Mode { small, medium, big, mixed, dist_app, dist_uniform };

struct Config {
  Mode mode;
  const char* mode_name;
  int threads;
  uint64_t iters, ws;
};

size_t draw_size(Mode m, Rng& r) {
  switch (m) {
    case Mode::small: return r.range(16, 2048);
    case Mode::medium: return r.range(4096, 32768);
    case Mode::big: return r.range(32768, 262144);
    case Mode::mixed:
    case Mode::dist_uniform: return r.range(16, 32768);
    case Mode::dist_app: {
      uint64_t b = r.below(1000);
      if (b < 700) return r.range(16, 128);
      if (b < 920) return r.range(129, 1024);
      if (b < 999) return r.range(1025, 32768);
      return r.range(65536, 1 << 20);
    }
  }
  return 16;
}

struct alignas(64) ThreadOut {
  uint64_t ops = 0;
  double end_sec = 0;
};

void worker(const Config& c, int id, StartGate& gate, ThreadOut& out) {
  const bool dist = c.mode == Mode::dist_app || c.mode == Mode::dist_uniform;
  const uint64_t nshort = dist ? 64 : 0;
  const uint64_t nslots = nshort + c.ws;
  std::vector<void*> slot(nslots, nullptr);
  std::vector<uint32_t> size(nslots, 0);
  Rng rng(0xabcdef12ULL + 7919ULL * id);
  gate.arrive_and_wait();

  uint64_t ops = 0;
  for (uint64_t i = 0; i < c.iters; ++i) {
    uint64_t s;
    if (dist)
      s = rng.percent(90) ? rng.below(nshort) : nshort + rng.below(c.ws);
    else
      s = rng.below(c.ws);
    if (slot[s]) {
      free_verified(slot[s], size[s]);
      ++ops;
    }
    size_t n = draw_size(c.mode, rng);
    slot[s] = alloc_stamped(n);
    size[s] = (uint32_t)n;
    ++ops;
  }
  for (uint64_t s = 0; s < nslots; ++s)
    if (slot[s]) {
      free_verified(slot[s], size[s]);
      ++ops;
    }
  out.end_sec = gate.seconds_since_open();
  out.ops = ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s small|medium|big|mixed|dist_app|dist_uniform T ITERS WS\n", argv[0]);
    return 1;
  }
  Config c;
  std::string m = argv[1];
  if (m == "small") c.mode = Mode::small;
  else if (m == "medium") c.mode = Mode::medium;
  else if (m == "big") c.mode = Mode::big;
  else if (m == "mixed") c.mode = Mode::mixed;
  else if (m == "dist_app") c.mode = Mode::dist_app;
  else if (m == "dist_uniform") c.mode = Mode::dist_uniform;
  else die("unknown mode '%s'", argv[1]);
  c.mode_name = argv[1];
  c.threads = (int)arg_u64(argc, argv, 2, 1);
  c.iters = arg_u64(argc, argv, 3, 0);
  c.ws = arg_u64(argc, argv, 4, 0);
  if (c.threads < 1 || c.ws < 1) die("bad arguments (need T>=1, WS>=1)");

  std::vector<ThreadOut> out(c.threads);
  StartGate gate(c.threads);
  std::vector<std::thread> th;
  for (int t = 0; t < c.threads; ++t) th.emplace_back(worker, std::cref(c), t, std::ref(gate), std::ref(out[t]));
  gate.open();
  for (auto& t : th) t.join();

  double secs = 0, ops = 0;
  for (auto& o : out) {
    secs = std::max(secs, o.end_sec);
    ops += double(o.ops);
  }
  std::string name = (m.rfind("dist_", 0) == 0 ? "" : "ssot_") + m;
  char extra[128];
  std::snprintf(extra, sizeof extra, "threads=%d ws=%" PRIu64, c.threads, c.ws);
  print_result(name.c_str(), ops, secs, extra);
  std::printf("%s: %d threads x %" PRIu64 " steps, WS %" PRIu64 ": %.2f M ops/s\n", c.mode_name, c.threads,
              c.iters, c.ws, ops / secs / 1e6);
  return 0;
}
