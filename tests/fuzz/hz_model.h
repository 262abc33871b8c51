// The shadow model of the fuzz harness: what every live hz_* block must look
// like. Kept apart from the op decoder so each stays one screen.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <vector>

namespace hzfuzz {

[[noreturn]] inline void fail(const char* what, const void* p, size_t a = 0, size_t b = 0) {
  std::fprintf(stderr, "hz_api_fuzz: MODEL MISMATCH: %s (block %p, %zu, %zu)\n", what, p, a, b);
  std::abort();  // libFuzzer reports the crash and saves the input
}

// Block contents: byte i of block `id` is kPattern[(i + phase(id)) % kPeriod].
// A prime period keeps the pattern from lining up with pages or size classes,
// so a block that shows another block's bytes (overlap, stale copy) does not
// match; memcpy/memcmp over the pattern keep filling cheap for MiB blocks.
class Pattern {
 public:
  static constexpr size_t kPeriod = 4093;
  Pattern() {
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < kPeriod; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      bytes_[i] = bytes_[i + kPeriod] = static_cast<uint8_t>(x >> 24);
    }
  }
  void fill(uint8_t* p, uint32_t id, size_t from, size_t to) const {
    for (size_t i = from; i < to;) {
      size_t off = (i + phase(id)) % kPeriod, n = to - i < kPeriod ? to - i : kPeriod;
      std::memcpy(p + i, bytes_ + off, n);
      i += n;
    }
  }
  // Returns the offset of the first wrong byte in [from, to), or `to`.
  size_t first_mismatch(const uint8_t* p, uint32_t id, size_t from, size_t to) const {
    for (size_t i = from; i < to;) {
      size_t off = (i + phase(id)) % kPeriod, n = to - i < kPeriod ? to - i : kPeriod;
      if (std::memcmp(p + i, bytes_ + off, n) != 0)
        for (size_t k = 0; k < n; ++k)
          if (p[i + k] != bytes_[off + k]) return i + k;
      i += n;
    }
    return to;
  }

 private:
  static size_t phase(uint32_t id) { return (id * 2654435761u) % kPeriod; }
  uint8_t bytes_[2 * kPeriod];
};

enum class Kind : uint8_t { kMalloc, kCalloc, kRealloc, kAligned };

struct Block {
  uint8_t* p;
  size_t req;     // the size asked for
  size_t usable;  // hz_usable_size at allocation: must not change while live
  uint32_t id;    // selects the content pattern
  uint8_t tid;    // the thread that allocated it (0 = main)
  Kind kind;      // free_sized is only for malloc/calloc/realloc blocks (C23)
};

// Live blocks, the address ranges they cover, and the checks on them.
class Model {
 public:
  std::vector<Block> live;
  size_t live_bytes = 0;

  // A new block: no overlap with any live one, then filled with its pattern
  // (from `keep` on: the first `keep` bytes already hold it, after a realloc).
  void add(const Block& b, size_t keep = 0) {
    uintptr_t lo = reinterpret_cast<uintptr_t>(b.p), hi = lo + (b.usable ? b.usable : 1);
    auto it = spans_.lower_bound(lo);
    if (it != spans_.end() && it->first < hi) fail("overlaps a live block", b.p, it->first - lo, b.usable);
    if (it != spans_.begin() && std::prev(it)->second > lo) fail("overlaps a live block", b.p, lo - std::prev(it)->first, b.usable);
    spans_.emplace(lo, hi);
    pattern_.fill(b.p, b.id, keep, b.usable);
    live.push_back(b);
    live_bytes += b.usable;
  }
  // Removes live[i] (last one moved in its place: deterministic).
  Block take(size_t i) {
    Block b = live[i];
    spans_.erase(reinterpret_cast<uintptr_t>(b.p));
    live_bytes -= b.usable;
    live[i] = live.back();
    live.pop_back();
    return b;
  }
  // Every byte of the block still holds its pattern, over its whole usable size.
  void check(const Block& b, size_t to) const {
    size_t bad = pattern_.first_mismatch(b.p, b.id, 0, to);
    if (bad != to) fail("contents changed while live", b.p, bad, b.usable);
  }
  void check(const Block& b) const { check(b, b.usable); }
  uint32_t next_id() { return ++ids_; }

 private:
  Pattern pattern_;
  std::map<uintptr_t, uintptr_t> spans_;  // start -> end of each live block
  uint32_t ids_ = 0;
};

}  // namespace hzfuzz
