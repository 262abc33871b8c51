// espresso_like PROBLEMS [SEED]
//
// An imitation of the allocation shape of espresso, the Berkeley two-level
// logic minimiser that mimalloc-bench (and Hoard, and others before) run as a
// real-program benchmark. We cannot ship espresso or its inputs, so this
// program only copies what it does with the heap, single-threaded:
//
// - cubes are small bit vectors (2 bits per input variable: 01 = 0, 10 = 1,
//   11 = don't care), 1-7 64-bit words plus a header, allocated and freed by
//   the million as temporaries (copies, intersections, "raise" sets);
// - covers ("set families") keep their cubes inline in one array that grows
//   with realloc as cubes are added, from a few cubes to a few thousand;
// - a recursive complement splits a cover on its most binate variable into
//   two cofactors (new covers), recurses, and merges the results into a new
//   cover, then removes contained cubes through a sorted cube list (a
//   malloc'ed array of pointers, freed at once); a column-count array
//   (calloc) picks the split variable;
// - an expand step copies every cube of the cover and raises it against the
//   others with a handful of temporary cubes;
// - each of PROBLEMS problems has its own number of variables (8-200), so
//   the cube size changes from one problem to the next.
//
// It is not espresso: the logic is a loose sketch, and only the mix of sizes,
// lifetimes and realloc growth is meant to resemble it.
//
// Validation: a temporary cube's header holds a pattern of its address, size
// and allocation number, checked before its free; a cover's struct carries a
// tag, and its cubes a running hash, recomputed and checked before the cover
// is freed; every cube list is checked against its cover before its free.
//
// ops counted = malloc, calloc, realloc and free calls.
#include <algorithm>

#include "bench_common.h"

using namespace hzb;

namespace {

uint64_t g_ops = 0;
uint64_t g_serial = 0;

// ---- temporary cubes ----
struct Cube {
  uint64_t* p;  // p[0] = header, p[1..w] = bits
  uint32_t w;
  uint64_t salt;
  uint64_t* bits() const { return p + 1; }
};

// the header: address, size and allocation number (cheap: cubes are many)
inline uint64_t cube_header(const uint64_t* p, uint32_t w, uint64_t salt) {
  return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL) ^ (salt << 8) ^ w;
}

Cube cube_new(uint32_t w) {
  const size_t n = 8 * (size_t(w) + 1);
  Cube c{static_cast<uint64_t*>(std::malloc(n)), w, ++g_serial};
  check_ptr_sized(c.p, n);
  c.p[0] = cube_header(c.p, w, c.salt);
  ++g_ops;
  return c;
}
void cube_free(Cube& c) {
  if (c.p[0] != cube_header(c.p, c.w, c.salt))
    die("cube %p: header corrupted", (void*)c.p);
  std::free(c.p);
  ++g_ops;
  c.p = nullptr;
}

// ---- covers: cubes inline in a realloc-grown array ----
struct Cover {
  uint64_t tag;
  uint32_t w, count, cap, nvars;
  uint64_t hash;
  uint64_t* data;
  uint64_t* cube(uint32_t i) const { return data + size_t(i) * w; }
};

uint64_t cube_hash(const uint64_t* c, uint32_t w, uint32_t index) {  // cheap, order-sensitive
  uint64_t h = (index + 1) * 0x9e3779b97f4a7c15ULL;
  for (uint32_t k = 0; k < w; ++k) h = (h ^ c[k]) * 0xff51afd7ed558ccdULL;
  return h ^ (h >> 29);
}

Cover* cover_new(uint32_t w, uint32_t nvars, uint32_t guess) {
  auto* f = static_cast<Cover*>(std::malloc(sizeof(Cover)));
  check_ptr_sized(f, sizeof(Cover));
  ++g_ops;
  *f = Cover{tag_of(f, sizeof(Cover)), w, 0, std::max<uint32_t>(guess, 2), nvars, 0, nullptr};
  f->data = static_cast<uint64_t*>(std::malloc(size_t(f->cap) * w * 8));
  check_ptr_sized(f->data, size_t(f->cap) * w * 8);
  ++g_ops;
  return f;
}
void cover_add(Cover* f, const uint64_t* c) {
  if (f->count == f->cap) {  // espresso's sf_addset: grow by half
    f->cap = f->cap + f->cap / 2 + 1;
    f->data = static_cast<uint64_t*>(std::realloc(f->data, size_t(f->cap) * f->w * 8));
    check_ptr_sized(f->data, size_t(f->cap) * f->w * 8);
    ++g_ops;
  }
  std::memcpy(f->cube(f->count), c, size_t(f->w) * 8);
  f->hash ^= cube_hash(c, f->w, f->count);
  ++f->count;
}
void cover_check(const Cover* f) {
  if (f->tag != tag_of(f, sizeof(Cover))) die("cover %p: tag corrupted", (const void*)f);
  uint64_t h = 0;
  for (uint32_t i = 0; i < f->count; ++i) h ^= cube_hash(f->cube(i), f->w, i);
  if (h != f->hash) die("cover %p (%u cubes): cube array corrupted", (const void*)f, f->count);
}
void cover_free(Cover* f) {
  cover_check(f);
  std::free(f->data);
  std::free(f);
  g_ops += 2;
}

// ---- cube helpers ----
inline uint64_t field(const uint64_t* c, uint32_t v) { return (c[v / 32] >> (2 * (v % 32))) & 3; }
inline void set_field(uint64_t* c, uint32_t v, uint64_t x) {
  c[v / 32] = (c[v / 32] & ~(uint64_t{3} << (2 * (v % 32)))) | (x << (2 * (v % 32)));
}
// number of fields that are not "don't care" (11), word by word
constexpr uint64_t kLow = 0x5555555555555555ULL;
inline uint32_t popcount(uint64_t x) {  // SWAR: no libgcc call without -mpopcnt
  x -= (x >> 1) & kLow;
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return uint32_t((x * 0x0101010101010101ULL) >> 56);
}
uint32_t literals(const uint64_t* c, uint32_t w, uint32_t nvars) {
  uint32_t dc = 0;
  for (uint32_t k = 0; k < w; ++k) dc += popcount(c[k] & (c[k] >> 1) & kLow);
  return nvars - (dc - (64 * w - 2 * nvars) / 2);  // the padding fields are 11
}
// a & b has an empty field (00) for some variable: the cubes do not intersect
bool disjoint(const uint64_t* a, const uint64_t* b, uint32_t w) {
  for (uint32_t k = 0; k < w; ++k) {
    const uint64_t x = a[k] & b[k];
    if (~(x | (x >> 1)) & kLow) return true;
  }
  return false;
}
bool contains(const uint64_t* a, const uint64_t* b, uint32_t w) {  // b inside a
  for (uint32_t k = 0; k < w; ++k)
    if ((b[k] & ~a[k]) != 0) return false;
  return true;
}

constexpr uint32_t kMaxCubes = 200;

// Cube list of a cover sorted by literal count, contained cubes dropped: a new cover.
Cover* make_irredundant(Cover* f) {
  const size_t n = size_t(f->count) + 3;
  auto** list = static_cast<uint64_t**>(std::malloc(n * sizeof(uint64_t*)));
  check_ptr_sized(list, n * sizeof(uint64_t*));
  ++g_ops;
  // the sort key, once per cube (an array of its own, as espresso's counts)
  auto* key = static_cast<uint32_t*>(std::malloc((size_t(f->count) + 1) * sizeof(uint32_t)));
  check_ptr_sized(key, (size_t(f->count) + 1) * sizeof(uint32_t));
  ++g_ops;
  for (uint32_t i = 0; i < f->count; ++i) {
    list[i] = f->cube(i);
    key[i] = literals(list[i], f->w, f->nvars);
  }
  const uint64_t* base = f->data;
  const uint32_t w = f->w;
  std::sort(list, list + f->count, [&](const uint64_t* a, const uint64_t* b) {
    const uint32_t ka = key[(a - base) / w], kb = key[(b - base) / w];
    return ka != kb ? ka < kb : a < b;
  });
  std::free(key);
  ++g_ops;
  Cover* r = cover_new(f->w, f->nvars, f->count / 2 + 1);
  for (uint32_t i = 0; i < f->count && r->count < kMaxCubes; ++i) {
    bool covered = false;
    for (uint32_t j = (i > 8 ? i - 8 : 0); j < i && !covered; ++j) covered = contains(list[j], list[i], f->w);
    if (!covered) cover_add(r, list[i]);
  }
  for (uint32_t i = 0; i < f->count; ++i)
    if (list[i] < f->data || list[i] >= f->data + size_t(f->count) * f->w)
      die("cube list %p: entry %u corrupted", (void*)list, i);
  std::free(list);
  ++g_ops;
  return r;
}

Cover* cofactor(const Cover* f, uint32_t v, uint64_t value) {
  Cover* r = cover_new(f->w, f->nvars, f->count / 2 + 1);
  for (uint32_t i = 0; i < f->count; ++i) {
    const uint64_t* c = f->cube(i);
    if ((field(c, v) & value) == 0) continue;
    Cube t = cube_new(f->w);  // espresso: set_copy into a temporary, then sf_addset
    std::memcpy(t.bits(), c, size_t(f->w) * 8);
    set_field(t.bits(), v, 3);
    cover_add(r, t.bits());
    cube_free(t);
  }
  return r;
}

Cover* complement(Cover* f, int depth, Rng& rng) {
  if (f->count <= 2 || depth >= 7) {
    // base case: one cube per literal of each cube, that literal flipped
    Cover* r = cover_new(f->w, f->nvars, 4);
    for (uint32_t i = 0; i < f->count && r->count < kMaxCubes; ++i) {
      uint32_t made = 0;
      for (uint32_t v = 0; v < f->nvars && made < 4; ++v) {
        const uint64_t x = field(f->cube(i), v);
        if (x == 3) continue;
        Cube t = cube_new(f->w);
        std::memset(t.bits(), 0xff, size_t(f->w) * 8);
        set_field(t.bits(), v, x ^ 3);
        cover_add(r, t.bits());
        cube_free(t);
        ++made;
      }
    }
    return r;
  }
  // the most binate variable, from a column count (calloc'ed, as espresso's)
  auto* cnt = static_cast<uint32_t*>(std::calloc(size_t(f->nvars) * 2, sizeof(uint32_t)));
  check_ptr_sized(cnt, size_t(f->nvars) * 8);
  ++g_ops;
  const uint32_t v0 = uint32_t(rng.below(f->nvars)), v1 = std::min(f->nvars, v0 + 16);  // a window of candidates
  for (uint32_t i = 0; i < f->count; ++i)
    for (uint32_t v = v0; v < v1; ++v) {
      const uint64_t x = field(f->cube(i), v);
      if (x == 1) ++cnt[2 * v];
      if (x == 2) ++cnt[2 * v + 1];
    }
  uint32_t best = v0;
  uint32_t best_score = 0;
  for (uint32_t v = v0; v < v1; ++v) {
    const uint32_t score = std::min(cnt[2 * v], cnt[2 * v + 1]) * 2 + cnt[2 * v] + cnt[2 * v + 1];
    if (score > best_score) best_score = score, best = v;
  }
  std::free(cnt);
  ++g_ops;

  Cover* f0 = cofactor(f, best, 1);
  Cover* f1 = cofactor(f, best, 2);
  Cover* r0 = complement(f0, depth + 1, rng);
  Cover* r1 = complement(f1, depth + 1, rng);
  cover_free(f0);
  cover_free(f1);
  Cover* merged = cover_new(f->w, f->nvars, 4);  // grows by realloc
  for (int side = 0; side < 2; ++side) {
    Cover* part = side ? r1 : r0;
    for (uint32_t i = 0; i < part->count && merged->count < 4 * kMaxCubes; ++i) {
      Cube t = cube_new(f->w);
      std::memcpy(t.bits(), part->cube(i), size_t(f->w) * 8);
      set_field(t.bits(), best, side ? 2 : 1);
      cover_add(merged, t.bits());
      cube_free(t);
    }
  }
  cover_free(r0);
  cover_free(r1);
  Cover* r = make_irredundant(merged);
  cover_free(merged);
  return r;
}

// expand: each cube is raised against the off-set with a few temporaries
uint64_t expand(const Cover* f, const Cover* off) {
  uint64_t raised = 0;
  for (uint32_t i = 0; i < f->count; ++i) {
    Cube raise = cube_new(f->w), free_set = cube_new(f->w);
    std::memcpy(raise.bits(), f->cube(i), size_t(f->w) * 8);
    std::memset(free_set.bits(), 0, size_t(f->w) * 8);
    for (uint32_t k = 0; k < f->w; ++k) free_set.bits()[k] = ~raise.bits()[k];
    for (uint32_t j = 0; j < off->count && j < 24; ++j) {
      Cube tmp = cube_new(f->w);  // the raised cube
      for (uint32_t k = 0; k < f->w; ++k) tmp.bits()[k] = raise.bits()[k] | free_set.bits()[k];
      if (!disjoint(tmp.bits(), off->cube(j), f->w))
        for (uint32_t k = 0; k < f->w; ++k) free_set.bits()[k] &= ~off->cube(j)[k] | raise.bits()[k];
      cube_free(tmp);
    }
    for (uint32_t k = 0; k < f->w; ++k) raised += popcount(free_set.bits()[k]);
    cube_free(free_set);
    cube_free(raise);
  }
  return raised;
}

uint64_t solve(Rng& rng) {
  const uint32_t nvars = uint32_t(rng.range(8, 200));
  const uint32_t w = (2 * nvars + 63) / 64;
  const uint32_t m = uint32_t(rng.range(16, 160));
  Cover* f = cover_new(w, nvars, 8);  // the input, read cube by cube
  for (uint32_t i = 0; i < m; ++i) {
    Cube t = cube_new(w);
    std::memset(t.bits(), 0xff, size_t(w) * 8);
    for (uint32_t v = 0; v < nvars; ++v) {
      const uint64_t r = rng.below(8);
      set_field(t.bits(), v, r == 0 ? 1 : r == 1 ? 2 : 3);
    }
    cover_add(f, t.bits());
    cube_free(t);
  }
  Cover* off = complement(f, 0, rng);
  uint64_t result = expand(f, off);
  Cover* g = make_irredundant(f);
  result += g->count + off->count;
  cover_free(g);
  cover_free(off);
  cover_free(f);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROBLEMS [SEED]\n", argv[0]);
    return 1;
  }
  const uint64_t problems = arg_u64(argc, argv, 1, 100);
  const uint64_t seed = arg_u64(argc, argv, 2, 1);
  Rng rng(0xe5e55000ULL + seed);
  uint64_t check = 0;
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < problems; ++i) check += solve(rng);
  double secs = seconds_since(t0);

  char extra[96];
  std::snprintf(extra, sizeof extra, "problems=%" PRIu64 " checksum=%" PRIu64, problems, check);
  print_result("espresso_like", double(g_ops), secs, extra);
  std::printf("espresso_like: %" PRIu64 " problems, %" PRIu64 " allocator calls: %.2f M ops/s\n", problems, g_ops,
              double(g_ops) / secs / 1e6);
  return 0;
}
