// The free fast path: one range compare, the page's tag (two fields, each
// loaded on its own), the class's divisibility check (catches interior
// pointers), the free key (catches a double free), push. The bin, its magic
// and its key are at the tag's slot in the thread's bin region, which holds
// zeros for every other owner: the owner check is the divisibility test's.
// Everything else is one out-of-line call:
//   - not in the arena (or null)      -> free_outside()
//   - a page span, no block here, not
//     a block start, another owner's
//     block, a thread not set up
//     (magic 0 or not divisible)      -> free_span_or_invalid() -> free_remote()
//   - bin over its limit              -> flush_bin()     (to central)
#pragma once
#include "cache/thread_cache.h"
#include "check/free_key.h"
#include "pagemap/pagemap.h"
#include "shard/shard.h"

namespace hz {

HZ_NOINLINE void free_outside(void* p, const char* call);
// A pointer that failed the fast path's divisibility test: a block of
// another owner (or of a thread not set up), a page span, or invalid.
HZ_NOINLINE void free_span_or_invalid(void* p, const char* call);
// Reports p as a double free when it points at a freed block or span, else as
// an invalid pointer; aborts.
[[noreturn]] HZ_COLD void bad_pointer(const char* call, const void* p);


HZ_INLINE bool size_fits_class(unsigned cls, size_t size, SizeCheck how) {
  if (size > kMaxSmallSize) return false;
  unsigned c = class_of(size);
  return how == SizeCheck::kExact ? c == cls : c <= cls;
}
// Reports "<call>(): size does not match the block" and aborts.
[[noreturn]] HZ_COLD void size_mismatch(void* p, SizeCheck how);
HZ_NOINLINE void free_span_sized(void* p, size_t size, SizeCheck how);

// p's bin (at its page tag's slot in the thread's region) and the
// divisibility test: p starts a block of its run iff run_off * magic < magic
// (run_off = (uint32_t)(p + bias) < 2^32); *miss when it does not, which is
// also every block of another owner (its slot reads magic 0). x86-64: one asm
// block, each tag field and the magic taken from memory: GCC keeps the tag's
// address in a register of its own and the magic in another, and copies the
// operand (three instructions more). volatile: it reads the tag, so it must
// not be hoisted above the range check.
HZ_INLINE Bin* find_bin(const void* p, uintptr_t off, bool* miss) {
  const PageTag* tags = g_pagemap.tags;
  uintptr_t page = off >> kPageShift;
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  Bin* bin;
  uint64_t n;
  asm volatile(
      "movl 4(%[tags],%[page],8), %k[bin]\n\t"
      "addq %[region], %[bin]\n\t"
      "movl %k[p], %k[n]\n\t"
      "addl (%[tags],%[page],8), %k[n]\n\t"
      "imulq %c[magic](%[bin]), %[n]\n\t"
      "cmpq %c[magic](%[bin]), %[n]"
      : [bin] "=&r"(bin), [n] "=&r"(n), "=@ccae"(*miss)
      : [tags] "r"(tags), [page] "r"(page), [p] "r"(p), [region] "m"(t_bins),
        [magic] "i"(offsetof(Bin, magic)));
  static_assert(offsetof(PageTag, bias) == 0 && offsetof(PageTag, slot) == 4, "find_bin's loads");
  return bin;
#else
  const PageTag* tag = &tags[page];
  Bin* bin = bin_at(t_bins, tag->slot);
  uint64_t run_off = run_offset(p, *tag);
  *miss = run_off * bin->magic >= bin->magic;
  return bin;
#endif
}

template <SizeCheck kCheck = SizeCheck::kNone>
HZ_INLINE void dealloc(void* p, size_t size = 0) {
  uintptr_t off = arena_offset(p);
  if (HZ_UNLIKELY(off >= pagemap_size())) return free_outside(p, "free");
  bool miss;
  Bin* bin = find_bin(p, off, &miss);
  if (HZ_UNLIKELY(miss)) {
    if constexpr (kCheck != SizeCheck::kNone) return free_span_sized(p, size, kCheck);
    return free_span_or_invalid(p, "free");
  }
  if constexpr (kCheck != SizeCheck::kNone) {
    if (HZ_UNLIKELY(!size_fits_class(bin->cls, size, kCheck))) size_mismatch(p, kCheck);
  }
  FreeBlock* b = static_cast<FreeBlock*>(p);
  if (HZ_UNLIKELY(!mark_free(b, bin->key))) return report_double_free(p, "free");
  b->set_next(bin->head);
  bin->head = b;
  if (HZ_UNLIKELY(--bin->room < 0)) flush_bin(bin);
}

}  // namespace hz
