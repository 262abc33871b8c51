// Free key (box "free key", kFreeKey): catches a double free of a small block
// wherever the first free put it (bin, spill, remote stash, owner stash,
// central, a sorted run). A block on any free list carries free_key(p) in its
// second word; every hand-out clears that word. So free(p) finds the key
// exactly when p is already free: one load, one compare and one store on the
// free path, and no walk. On the malloc path the clear doubles as a check
// that the popped block was a free one: a link overwritten after free is
// caught before its target is handed out.
#pragma once
#include "arena/arena.h"

namespace hz {

namespace hardened {
extern uint64_t g_secret;  // random, top 16 bits set (check/hardened.cpp)
}

// The block's own address with its high half flipped and a few low bits
// flipped by its class: never a canonical user-space pointer and an unlikely
// integer or double (a negative NaN), so live data does not carry it by
// chance. The class part makes a free block of another class fail
// take_in_use(): a forged link into another class's free list is caught too.
// It costs what a constant did: the class's term is one load from the table
// the path already indexes (size_class.h, ClassTables), xor'd with the
// address. The hardened build flips it with a per-process secret as well: a
// forged link must then guess the secret.
HZ_INLINE uint64_t free_key(const FreeBlock* b, size_t cls) {
  uint64_t k = static_cast<uint64_t>(static_cast<int64_t>(kTables.key[cls]));
  if constexpr (kHardened) k = hardened::g_secret ^ (k & 0x7FFFFFFFu);  // keeps the secret's top bits
  return reinterpret_cast<uintptr_t>(b) ^ k;
}

// The box's reports (api/malloc_api.cpp), each aborting; the fast paths reach
// them by a jump (HZ_COLD_TAIL): a double free, and a free list whose block
// is not a free one (a write after free).
HZ_COLD_TAIL void report_double_free(void* p, const char* call);
HZ_COLD_TAIL void* report_bad_free_list(void* b);

// A block going onto a free list: false, and no change, if it is on one
// already (a double free; the caller reports it by a tail call, so the fast
// path needs no stack frame).
HZ_INLINE bool mark_free(FreeBlock* b, unsigned cls) {
  if constexpr (kFreeKey) {
    uint64_t k = free_key(b, cls);
    if (HZ_UNLIKELY(b->key == k)) return false;
    b->key = k;
  }
  (void)b, (void)cls;
  return true;
}

// A block being handed out: clears its key, and false if it had none (the
// list that held it was written after free: its link led elsewhere). The
// check is the clear itself, an xor that must leave zero: it fails too for a
// free block of another class.
HZ_INLINE bool take_in_use(FreeBlock* b, size_t cls) {
  if constexpr (kFreeKey) {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
    // One xor into memory whose flags give the answer (GCC splits the C form
    // below into load, xor, store and compare).
    bool had_other;
    asm("xorq %2, %0" : "+m"(b->key), "=@ccnz"(had_other) : "r"(free_key(b, cls)));
    return !had_other;
#else
    b->key ^= free_key(b, cls);
    return b->key == 0;
#endif
  }
  (void)b, (void)cls;
  return true;
}

// True if p, a block of small class cls, is free (no side effect).
HZ_INLINE bool is_free_block(const void* p, unsigned cls) {
  return kFreeKey && static_cast<const FreeBlock*>(p)->key == free_key(static_cast<const FreeBlock*>(p), cls);
}

}  // namespace hz
