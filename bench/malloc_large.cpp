// malloc_large ITERS [BUFFERS [MIN_MIB [MAX_MIB [RELEASE_FIRST]]]]
//
// Large zero-filled buffers, in the shape of mimalloc-bench's malloc-large
// (written from its description): BUFFERS (default 20) slots of live buffers of
// MIN_MIB-MAX_MIB MiB (default 5-25, uniform in bytes); ITERS times, one random
// slot gets a new buffer from std::make_unique<char[]>(n) (operator new[] +
// zero-fill of the whole buffer), and the buffer that was there is released
// afterwards, as `slot = std::make_unique<char[]>(n)` does; RELEASE_FIRST 1:
// before, as `slot.reset(); slot = std::make_unique<char[]>(n)` does (one
// buffer so replaced is a program whose peak is that buffer: no peak above
// it to keep the freed one under). One thread. The original's figure: 20
// buffers, 2000 replacements.
//
// Validation: the new buffer must read zero where the stamp goes (head, every
// 4 KiB, tail: the zero-fill happened and every page is touched), then it is
// stamped; a buffer is verified before it is released, and all are verified at
// the end.
//
// ops counted = allocations + releases.
#include <memory>

#include "bench_common.h"

using namespace hzb;

namespace {

void check_zero_and_stamp(char* p, size_t n) {
  auto zero_at = [&](size_t off) {
    uint64_t w;
    std::memcpy(&w, p + off, 8);
    if (w != 0) die("make_unique<char[]>(%zu) = %p: not zero-filled at +%zu", n, (void*)p, off);
  };
  zero_at(0);
  zero_at(8);
  for (size_t off = 4096; off + 8 <= n; off += 4096) zero_at(off);
  zero_at((n - 8) & ~size_t{7});
  stamp(p, n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ITERS [BUFFERS [MIN_MIB [MAX_MIB [RELEASE_FIRST]]]]\n", argv[0]);
    return 1;
  }
  const uint64_t iters = arg_u64(argc, argv, 1, 2000);
  const uint64_t nbuf = arg_u64(argc, argv, 2, 20);
  const uint64_t min_b = arg_u64(argc, argv, 3, 5) << 20;
  const uint64_t max_b = arg_u64(argc, argv, 4, 25) << 20;
  const uint64_t release_first = arg_u64(argc, argv, 5, 0);
  if (nbuf < 1 || nbuf > 4096 || min_b < 64 || max_b < min_b || release_first > 1) die("bad arguments");

  // The slots: unique_ptrs in rig memory (mmap, zero-filled = empty unique_ptrs).
  using Buf = std::unique_ptr<char[]>;
  Buf* slot = new (rig_alloc<Buf>(nbuf)) Buf[nbuf];
  size_t* size = rig_alloc<size_t>(nbuf);
  Rng rng(0x1a26e000ULL);
  double ops = 0;

  auto t0 = Clock::now();
  for (uint64_t i = 0; i < iters; ++i) {
    const uint64_t s = rng.below(nbuf);
    const size_t n = rng.range(min_b, max_b);
    if (slot[s]) verify(slot[s].get(), size[s]);
    if (release_first && slot[s]) slot[s].reset(), ops += 1;
    Buf fresh = std::make_unique<char[]>(n);
    check_ptr(fresh.get(), n);
    check_zero_and_stamp(fresh.get(), n);
    ops += slot[s] ? 2 : 1;
    slot[s] = std::move(fresh);  // releases the old buffer
    size[s] = n;
  }
  for (uint64_t s = 0; s < nbuf; ++s)
    if (slot[s]) {
      verify(slot[s].get(), size[s]);
      slot[s].reset();
      ops += 1;
    }
  double secs = seconds_since(t0);

  char extra[96];
  std::snprintf(extra, sizeof extra, "buffers=%" PRIu64 " iters=%" PRIu64, nbuf, iters);
  print_result("malloc_large", ops, secs, extra);
  std::printf("malloc_large: %" PRIu64 " buffers of %" PRIu64 "-%" PRIu64 " MiB, %" PRIu64
              " replacements: %.1f s, %.0f ops/s\n",
              nbuf, min_b >> 20, max_b >> 20, iters, secs, ops / secs);
  return 0;
}
