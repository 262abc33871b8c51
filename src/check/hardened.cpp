#include "check/hardened.h"

#include <errno.h>
#include <string.h>
#include <sys/auxv.h>

#include "api/alloc_path.h"
#include "api/free_path.h"
#include "check/free_key.h"
#include "large/large.h"
#include "os/os.h"

namespace hz::hardened {

uint64_t g_secret = 0xFFFFFFFF'A5E0F2D3ull;  // until init(): the default build's key
uint64_t g_link_secret = 0;

namespace {

constexpr size_t kSmallMax = kMaxSmallSize;

// Other builds keep one slot: no static TLS spent on a layer they never use.
struct Quarantine {
  FreeBlock* slot[kHardened ? kQuarantineSlots : 1];
  unsigned n;
  size_t bytes;
};
HZ_TLS Quarantine t_quarantine;
HZ_TLS uint64_t t_rng;

uint64_t next_random() {
  uint64_t x = t_rng;
  if (HZ_UNLIKELY(x == 0)) x = g_secret ^ reinterpret_cast<uintptr_t>(&x) ^ os::random_u64();
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  t_rng = x;
  return x;
}

// Per block and per process; its first byte is zero so that a C string
// running into it stops there instead of reading the secret out.
uint64_t canary(const void* p) { return ((reinterpret_cast<uintptr_t>(p) * 0x9E3779B97F4A7C15ull) ^ g_secret) << 8; }
uint64_t* canary_at(const void* p, size_t block) {
  return reinterpret_cast<uint64_t*>(const_cast<char*>(static_cast<const char*>(p)) + block - kCanaryBytes);
}

// Words of a free small block the core writes: link, key, and a batch header.
constexpr size_t kCoreWords = 3 * sizeof(uint64_t);

// Whether the words [from, block / 8) of a freed block are still zero: all of
// them up to 256 bytes, the first and last 64 bytes of larger blocks (where
// a stale pointer's fields most often are; reading all of a block would cost
// as much as the program's use of it).
constexpr size_t kEdgeBytes = 64;
static_assert(kHardenedZeroMax >= 4 * kEdgeBytes, "the reuse check reads the edges of larger blocks only");

uint64_t or_words(const uint64_t* w, size_t from, size_t to) {
  uint64_t acc = 0;  // no early exit: the loop vectorises
  for (size_t i = from; i < to; ++i) acc |= w[i];
  return acc;
}

bool still_zero(const void* p, size_t from, size_t block) {
  const uint64_t* w = static_cast<const uint64_t*>(p);
  const size_t words = block / 8, edge = kEdgeBytes / 8;
  if (block <= 4 * kEdgeBytes) return or_words(w, from, words) == 0;
  return (or_words(w, from, edge) | or_words(w, words - edge, words)) == 0;
}

// A block of a size class, not a page span: an alignment past a page is
// served by a span whatever its size, and the pages of a span hold what the
// page heap left there (a released run's blocks, the middle of a large one).
bool in_class(const void* p, size_t block) {
  return block <= kSmallMax && tag_class(tag_at(arena_offset(p))) != kLargeClass;
}

// A block just handed out by the core: still zero past the core's words, as
// its free left it (else the program wrote after free, or an underflow of
// its neighbour reached it). It leaves zeroed, with its canary.
void* finish_alloc(void* p, size_t need, const char* call) {
  if (!p) return nullptr;
  size_t block = block_size(p);
  // A free list whose link was forged to a free block of a smaller class.
  if (HZ_UNLIKELY(block < need)) heap_corruption("a free list handed out a block of another size class", p);
  if (in_class(p, block)) {
    if (HZ_UNLIKELY(!still_zero(p, kCoreWords / 8, block))) misuse(call, "write after free detected in block", p);
    memset(p, 0, block < kCoreWords ? block : kCoreWords);
  } else if (block <= kHardenedZeroMax) {
    memset(p, 0, block);
  }
  *canary_at(p, block) = canary(p);
  return p;
}

// A block leaves the quarantine for the core. A write after free while it
// waited is caught when the core hands it out again (finish_alloc); a block
// that may never be handed out again (the quarantine flushed at thread exit,
// trim, exit) is checked here: still zeroed as its free left it, but for its key.
void release(FreeBlock* b, bool check) {
  if (check) {
    bool clean = b->link == 0 && b->key == free_key(b, class_of(block_size(b))) && still_zero(b, 2, block_size(b));
    if (HZ_UNLIKELY(!clean)) misuse("free", "write after free detected in block", b);
  }
  b->key = 0;  // dealloc marks it free again
  dealloc(b);
}

// Freed page spans wait too, inaccessible and purged (they cost address
// space, not memory), their tag saying "freed": an access faults, a second
// free is reported. Bounded in count and bytes.
constexpr unsigned kSpanSlots = 16;
constexpr size_t kSpanMaxBytes = size_t{64} << 20;
struct SpanQuarantine {
  SpinLock lock;
  void* slot[kSpanSlots];
  unsigned n, next;
};
constinit SpanQuarantine g_spans{};

void release_span(void* p) {
  size_t page = arena::page_of(p);
  g_pagemap.tags[page] = make_tag(kLargeClass);
  large::free(p);
}

void quarantine_span(void* p, size_t block) {
  if (block > kSpanMaxBytes / 4) return dealloc(p);
  size_t page = arena::page_of(p);
  close_span(p, block);
  g_pagemap.tags[page] = make_tag(kFreedClass);
  void* victim = nullptr;
  {
    LockGuard g(g_spans.lock);
    if (g_spans.n < kSpanSlots) {
      g_spans.slot[g_spans.n++] = p;
    } else {
      victim = g_spans.slot[g_spans.next];
      g_spans.slot[g_spans.next] = p;
      g_spans.next = (g_spans.next + 1) % kSpanSlots;
    }
  }
  if (victim) release_span(victim);
}

void quarantine(FreeBlock* b, size_t block) {
  Quarantine& q = t_quarantine;
  if (!t_cache->live || block > kQuarantineMaxBytes / 8) return release(b, false);
  q.bytes += block;
  if (q.n < kQuarantineSlots) {
    q.slot[q.n++] = b;
  } else {
    unsigned i = static_cast<unsigned>(next_random() % kQuarantineSlots);
    FreeBlock* old = q.slot[i];
    q.slot[i] = b;
    q.bytes -= block_size(old);
    release(old, false);
  }
  while (q.bytes > kQuarantineMaxBytes && q.n > 1) {
    unsigned i = static_cast<unsigned>(next_random() % q.n);
    if (q.slot[i] == b) i = (i + 1) % q.n;  // the block just freed always waits
    FreeBlock* old = q.slot[i];
    q.slot[i] = q.slot[--q.n];
    q.bytes -= block_size(old);
    release(old, false);
  }
}

// Checks a live block before it is freed or moved: a block we handed out,
// not already free, its canary intact. Returns its size.
size_t check_live(void* p, const char* call) {
  size_t block = block_size(p);
  if (HZ_UNLIKELY(block == 0)) bad_pointer(call, p);
  if (in_class(p, block) && HZ_UNLIKELY(is_free_block(p, class_of(block)))) double_free(call, p);
  if (HZ_UNLIKELY(*canary_at(p, block) != canary(p))) misuse(call, "heap overflow detected in block", p);
  return block;
}

}  // namespace

void init() {
  uint64_t r[2] = {0, 0};
  if (const void* at = reinterpret_cast<const void*>(getauxval(AT_RANDOM))) memcpy(r, at, sizeof r);
  // Top 16 bits set: a key is never a canonical user-space pointer.
  g_secret = (r[0] ^ r[1] ^ os::random_u64()) | 0xFFFF'0000'0000'0000ull;
  g_link_secret = r[0] ^ os::random_u64();
}

void* malloc(size_t size) {
  if (HZ_UNLIKELY(size > PTRDIFF_MAX - kCanaryBytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return finish_alloc(alloc(size + kCanaryBytes), size + kCanaryBytes, "malloc");
}

void* aligned(size_t align, size_t size) {
  if (HZ_UNLIKELY(size > PTRDIFF_MAX - kCanaryBytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return finish_alloc(alloc_aligned(align, size + kCanaryBytes), size + kCanaryBytes, "aligned_alloc");
}

void* calloc(size_t total) {
  void* p = malloc(total);
  // Blocks up to kHardenedZeroMax come out zeroed; larger ones only at their
  // edges, and a span may come from memory the page heap had not purged.
  if (p && block_size(p) > kHardenedZeroMax) memset(p, 0, total);
  return p;
}

void free(void* p, const char* call) {
  if (!p) return;
  if (arena_offset(p) >= pagemap_size()) return free_outside(p, call);
  size_t block = check_live(p, call);
  if (!in_class(p, block)) return quarantine_span(p, block);
  if (block <= kHardenedZeroMax) {
    memset(p, 0, block);
  } else {
    memset(p, 0, kEdgeBytes);
    memset(static_cast<char*>(p) + block - kEdgeBytes, 0, kEdgeBytes);
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->key = free_key(b, class_of(block));  // free while it waits: a second free is caught
  quarantine(b, block);
}

void free_sized(void* p, size_t size, SizeCheck how) {
  const bool exact = how == SizeCheck::kExact;
  const char* call = sized_call(how);
  if (p && arena_offset(p) < pagemap_size()) {
    size_t block = block_size(p), need = size + kCanaryBytes;
    // Exact: the block malloc would give for this size (a class, or pages).
    size_t fit = need <= kSmallMax ? kClasses[class_of(need)].size : (need + kPageSize - 1) & ~(kPageSize - 1);
    if (block != 0 && (exact ? fit != block : need > block)) misuse(call, "size does not match the block", p);
  }
  free(p, call);
}

void* realloc(void* p, size_t size) {
  if (!p) return malloc(size);
  if (arena_offset(p) >= pagemap_size()) free_outside(p, "realloc");
  size_t old = check_live(p, "realloc") - kCanaryBytes;
  if (size == 0) {
    free(p, "realloc");
    return nullptr;
  }
  void* q = malloc(size);  // always moves: a stale pointer to the old block is caught
  if (!q) return nullptr;
  memcpy(q, p, size < old ? size : old);
  free(p, "realloc");
  return q;
}

size_t usable_size(const void* p) {
  size_t block = p ? block_size(p) : 0;
  return block ? block - kCanaryBytes : 0;
}

void flush_quarantine() {
  Quarantine& q = t_quarantine;
  while (q.n > 0) release(q.slot[--q.n], true);
  q.bytes = 0;
}

void flush_spans() {
  for (;;) {
    void* p = nullptr;
    {
      LockGuard g(g_spans.lock);
      if (g_spans.n > 0) p = g_spans.slot[--g_spans.n];
      g_spans.next = 0;
    }
    if (!p) return;
    release_span(p);
  }
}

FreeBlock* shuffle_carved(char* base, unsigned n, unsigned cls, FreeBlock** last) {
  size_t size = kClasses[cls].size;
  uint16_t order[256];
  if (n > 256) n = 256;
  for (unsigned i = 0; i < n; ++i) order[i] = static_cast<uint16_t>(i);
  for (unsigned i = n - 1; i > 0; --i) {
    unsigned j = static_cast<unsigned>(next_random() % (i + 1));
    uint16_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  FreeBlock* head = nullptr;
  for (unsigned i = 0; i < n; ++i) {
    auto* b = reinterpret_cast<FreeBlock*>(base + size_t{order[i]} * size);
    b->set_next(head);
    b->key = free_key(b, cls);
    if (i == 0) *last = b;
    head = b;
  }
  return head;
}

bool open_span(void* p, size_t bytes) { return os::protect(p, bytes, true); }

// Refused when the process has too many mappings: the run then has no guard.
void guard(void* p, size_t bytes) { (void)os::protect(p, bytes, false); }

void close_span(void* p, size_t bytes) {
  os::purge(p, bytes);
  os::protect(p, bytes, false);  // refused (too many mappings): stays open, still purged
}

}  // namespace hz::hardened
