// Size classes: size -> class and class -> (size, run pages, batch), all
// compile-time tables. 16-byte steps to 128, then 4 classes per power of two
// up to kMaxSmallSize (at most 25% internal waste), and from 1 KiB a fifth
// at 2^k + 2^k/8 (HZ_NEAR_POW2_CLASSES): a buffer of 2^k plus a small header
// (sqlite's 4104- and 4368-byte pages) wastes at most 12%, not 20-25%; and
// with HZ_FINE_NEAR_CLASSES three finer ones (1040, 4160, 4416) for the
// sizes sqlite keeps most of, which waste at most 1.6%.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "common/base.h"

namespace hz {

// Groups of 4 classes above 128 B, one per power of two up to kMaxSmallSize;
// the groups from 1 KiB get a near-power class each when the switch is on.
inline constexpr unsigned kClassGroups = 11, kNearGroups = kNearPow2Classes ? 8 : 0;
inline constexpr uint32_t kFineSizes[] = {1040, 4160, 4416};  // HZ_FINE_NEAR_CLASSES, ascending
inline constexpr unsigned kFineClasses = kFineNearClasses ? std::size(kFineSizes) : 0;
inline constexpr unsigned kNumClasses = 8 + 4 * kClassGroups + kNearGroups + kFineClasses + 1;  // class 0 means "no class"
inline constexpr unsigned kLargeClass = 255;              // page-tag class of a page span
// Page-tag class of a page where a span started, or of a small run's page,
// that was freed and not reused since: a free() there is a double free.
inline constexpr unsigned kFreedClass = 254;
inline constexpr size_t kLookupMax = 1024;                // sizes served by one table load

struct ClassInfo {
  uint32_t size;       // block size in bytes
  uint16_t run_pages;  // pages per run
  uint16_t batch;      // blocks moved per refill/flush
  uint32_t capacity;   // blocks per run
  uint32_t bin_max;    // thread-cache bin limit before a flush
  uint64_t div_magic;  // n % size == 0  <=>  n * div_magic < div_magic (n < 2^32)
};

namespace detail {

constexpr std::array<uint32_t, kNumClasses> make_sizes() {
  std::array<uint32_t, kNumClasses> t{};
  unsigned c = 1;
  for (uint32_t i = 1; i <= 8; ++i) t[c++] = 16 * i;
  for (unsigned g = 0; g < kClassGroups; ++g) {
    uint32_t base = 128u << g;  // 128, 256, ...
    for (unsigned i = 0; i < kFineClasses; ++i)
      if (kFineSizes[i] > base && kFineSizes[i] < base + base / 8) t[c++] = kFineSizes[i];
    if (kNearPow2Classes && base >= 1024) t[c++] = base + base / 8;
    for (uint32_t step = 1; step <= 4; ++step) t[c++] = base + step * (base / 4);
  }
  return t;
}
inline constexpr std::array<uint32_t, kNumClasses> kSizes = make_sizes();
constexpr uint32_t class_size(unsigned c) { return kSizes[c]; }

// Tail waste a run may have: 1/64 with the fine classes (4416 in 16 pages
// left 5.7% of every run unused; only 2560 among the others changes, 16 ->
// 17 pages), else 1/16.
inline constexpr uint32_t kRunWasteDiv = kFineNearClasses ? 64 : 16;

constexpr uint16_t pick_run_pages(uint32_t size) {
  // Fewest pages giving >= target blocks with tail waste <= 1/kRunWasteDiv.
  uint32_t target = 65536 / size;
  if (target < 1) target = 1;
  if (target > 32) target = 32;
  uint16_t best = 0;
  for (uint32_t n = 1; n <= 256; ++n) {
    uint32_t bytes = n * 4096, objs = bytes / size;
    if (objs == 0) continue;
    uint32_t waste = bytes - objs * size;
    if (waste * kRunWasteDiv <= bytes && objs >= target) return static_cast<uint16_t>(n);
    if (best == 0 && waste * kRunWasteDiv <= bytes) best = static_cast<uint16_t>(n);
  }
  return best ? best : 64;
}

constexpr std::array<ClassInfo, kNumClasses> make_classes() {
  std::array<ClassInfo, kNumClasses> t{};
  for (unsigned c = 1; c < kNumClasses; ++c) {
    ClassInfo& ci = t[c];
    ci.size = class_size(c);
    ci.run_pages = pick_run_pages(ci.size);
    ci.capacity = ci.run_pages * 4096u / ci.size;
    uint32_t batch = 32768 / ci.size;
    ci.batch = static_cast<uint16_t>(batch < 2 ? 2 : batch > 64 ? 64 : batch);
    uint32_t by_bytes = static_cast<uint32_t>(kBinMaxBytes / ci.size);
    uint32_t by_min = static_cast<uint32_t>(kBinMinBytes / ci.size);
    uint32_t want = 4u * ci.batch > by_min ? 4u * ci.batch : by_min > 8192 ? 8192 : by_min;
    ci.bin_max = want < by_bytes ? want : by_bytes < 2 ? 2 : by_bytes;
    ci.div_magic = ~uint64_t{0} / ci.size + 1;
  }
  return t;
}

// Above kLookupMax every class size is a multiple of kMediumStep (256; 128
// with the near-power classes, for 1152; 16 with the fine ones, for 1040),
// so sizes rounded up to it keep their class: (size + step - 1) / step ->
// class, a table of 1, 2 or 16 KiB (a program touches only the lines of the
// sizes it uses).
inline constexpr size_t kMediumStep = kFineNearClasses ? 16 : kNearPow2Classes ? 128 : 256;
constexpr std::array<uint8_t, kMaxSmallSize / kMediumStep + 1> make_medium_lookup() {
  std::array<uint8_t, kMaxSmallSize / kMediumStep + 1> t{};
  unsigned c = 1;
  for (unsigned i = 0; i <= kMaxSmallSize / kMediumStep; ++i) {
    uint32_t sz = i * kMediumStep;
    while (class_size(c) < sz) ++c;
    t[i] = static_cast<uint8_t>(c);
  }
  return t;
}

constexpr std::array<uint8_t, kLookupMax / 16 + 1> make_lookup() {
  std::array<uint8_t, kLookupMax / 16 + 1> t{};
  unsigned c = 1;
  for (unsigned i = 0; i <= kLookupMax / 16; ++i) {
    uint32_t sz = i * 16;
    while (class_size(c) < sz) ++c;
    t[i] = static_cast<uint8_t>(c);
  }
  return t;
}

}  // namespace detail

inline constexpr std::array<ClassInfo, kNumClasses> kClasses = detail::make_classes();

// The tables the fast paths index, in one object: a path that reads two of
// them (malloc: lookup and key; free: magic and key) addresses both from one
// base register, where two objects would cost position-independent code a
// second lea.
struct ClassTables {
  // div_magic by any 8-bit tag class, 8 bytes apart: free() indexes it with
  // one scaled load, and a class that is not a small one (0, spans, freed)
  // has magic 0, which fails the divisibility test: one branch covers both.
  uint64_t div_magic[256];
  // The class's free key (check/free_key.h): 64 bits, the top 16 set (never
  // a canonical user-space pointer, a negative NaN as a double), the rest
  // mixed from the class: distinct per class, and no integer or double a
  // program is likely to hold.
  uint64_t key[256];
  uint8_t lookup[kLookupMax / 16 + 1];  // (size + 15) / 16 -> class
  uint8_t medium[kMaxSmallSize / detail::kMediumStep + 1];  // (size + step - 1) / step -> class, above kLookupMax
};
inline constexpr ClassTables kTables = [] {
  ClassTables t{};
  for (unsigned c = 1; c < kNumClasses; ++c) t.div_magic[c] = kClasses[c].div_magic;
  for (unsigned c = 0; c < 256; ++c) {
    uint64_t z = 0xA5E0F2D3C4B59687ull + c * 0x9E3779B97F4A7C15ull;  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    t.key[c] = (z ^ (z >> 31)) | 0xFFFF'0000'0000'0000ull;
  }
  auto lookup = detail::make_lookup();
  for (unsigned i = 0; i < lookup.size(); ++i) t.lookup[i] = lookup[i];
  auto medium = detail::make_medium_lookup();
  for (unsigned i = 0; i < medium.size(); ++i) t.medium[i] = medium[i];
  return t;
}();
inline constexpr const auto& kDivMagic = kTables.div_magic;
inline constexpr const auto& kClassLookup = kTables.lookup;
static_assert(kClasses[kNumClasses - 1].size == kMaxSmallSize, "class table must end at kMaxSmallSize");
static_assert(kNumClasses < kFreedClass, "class ids must fit the 8-bit tag field");

// Above kLookupMax the table is exact only if every class boundary there is
// a multiple of its step.
static_assert([] {
  for (unsigned c = 1; c < kNumClasses; ++c)
    if (kClasses[c].size > kLookupMax && kClasses[c].size % detail::kMediumStep != 0) return false;
  return true;
}(), "class sizes above kLookupMax must be multiples of kMediumStep");

// Class for a size in (kLookupMax, kMaxSmallSize]: one table load, where the
// log2 arithmetic took ten instructions.
HZ_INLINE unsigned class_of_medium(size_t size) { return kTables.medium[(size + detail::kMediumStep - 1) / detail::kMediumStep]; }

// Class for any size in [0, kMaxSmallSize].
HZ_INLINE unsigned class_of(size_t size) {
  if (HZ_LIKELY(size <= kLookupMax)) return kClassLookup[(size + 15) >> 4];
  return class_of_medium(size);
}

}  // namespace hz
