// realloc_grow ROUNDS [BUFFERS [STEP_KIB [MAX_MIB [BETWEEN_KIB]]]]
//
// Buffers grown by realloc with other blocks made between the steps, as a
// program that builds several outputs at once does: each round, BUFFERS
// (default 2) buffers grow in turn by STEP_KIB (64) up to MAX_MIB (16) MiB,
// and after each step a block of BETWEEN_KIB (300) KiB is made (kept until
// the round ends), which an allocator tends to place right after the buffer
// that just moved. Every new step's pages are written.
//
// Validation: each step's first word is stamped with the buffer and step,
// each block made between with its number; every stamp is checked at the end
// of the round.
//
// ops counted = realloc calls.
#include <vector>

#include "bench_common.h"

using namespace hzb;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ROUNDS [BUFFERS [STEP_KIB [MAX_MIB [BETWEEN_KIB]]]]\n", argv[0]);
    return 1;
  }
  uint64_t rounds = arg_u64(argc, argv, 1, 4);
  size_t buffers = arg_u64(argc, argv, 2, 2);
  size_t step = arg_u64(argc, argv, 3, 64) << 10;
  size_t max = arg_u64(argc, argv, 4, 16) << 20;
  size_t between = arg_u64(argc, argv, 5, 300) << 10;
  if (!buffers || step < 8 || max < step) die("bad arguments");
  std::vector<char*> buf(buffers);
  std::vector<void*> made;
  uint64_t ops = 0;
  auto t0 = Clock::now();
  for (uint64_t r = 0; r < rounds; ++r) {
    for (size_t size = step; size <= max; size += step) {
      for (size_t b = 0; b < buffers; ++b) {
        char* q = static_cast<char*>(realloc(buf[b], size));
        if (!q) die("realloc(%zu) failed", size);
        ++ops;
        buf[b] = q;
        for (size_t o = size - step; o < size; o += 4096) std::memset(q + o, 0, 8);
        uint64_t v = mix64(b << 32 | size);
        std::memcpy(q + size - step, &v, 8);
        if (between) {
          made.push_back(malloc(between));
          if (!made.back()) die("malloc(%zu) failed", between);
          uint64_t m = mix64(made.size());
          std::memcpy(made.back(), &m, 8);
        }
      }
    }
    for (size_t b = 0; b < buffers; ++b) {
      for (size_t size = step; size <= max; size += step) {
        uint64_t v = mix64(b << 32 | size), w;
        std::memcpy(&w, buf[b] + size - step, 8);
        if (w != v) die("buffer %zu: step at %zu lost", b, size - step);
      }
      free(buf[b]);
      buf[b] = nullptr;
    }
    for (size_t i = 0; i < made.size(); ++i) {
      uint64_t m = mix64(i + 1), w;
      std::memcpy(&w, made[i], 8);
      if (w != m) die("block %zu made between the steps was overwritten", i);
      free(made[i]);
    }
    made.clear();
  }
  double secs = seconds_since(t0);
  print_result("realloc_grow", double(ops), secs, "");
  std::printf("realloc_grow: %zu buffers by %zu KiB to %zu MiB, %zu KiB between: %.3f M reallocs/s\n", buffers,
              step >> 10, max >> 20, between >> 10, double(ops) / secs / 1e6);
  return 0;
}
