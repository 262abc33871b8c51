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

// The class's key (kTables.key, copied into every Bin so the fast paths read
// it from the bin they use): 64 bits with the top 16 set, never a canonical
// user-space pointer and an unlikely integer or double (a negative NaN), so
// live data does not carry it by chance. Distinct per class: a free block of
// another class fails take_in_use(), so a forged link into another class's
// free list is caught too. With HZ_KEY_ADDRESS the block's address is xor'd
// in as well (an instruction more on each path): a word copied from a free
// block into another block is then not that block's key. The hardened build
// always mixes the address and a per-process secret in: a forged link must
// then guess the secret.
HZ_INLINE uint64_t free_key_of(const FreeBlock* b, uint64_t class_key) {
  if constexpr (kHardened) {
    uint64_t k = hardened::g_secret ^ (class_key & 0x7FFFFFFFu);  // keeps the secret's top bits
    return reinterpret_cast<uintptr_t>(b) ^ k;
  }
  if constexpr (kKeyAddress) return reinterpret_cast<uintptr_t>(b) ^ class_key;
  (void)b;
  return class_key;
}
HZ_INLINE uint64_t free_key(const FreeBlock* b, size_t cls) { return free_key_of(b, kTables.key[cls]); }

// The box's reports (api/malloc_api.cpp), each aborting; the fast paths reach
// them by a jump (HZ_COLD_TAIL): a double free, and a free list whose block
// is not a free one (a write after free).
HZ_COLD_TAIL void report_double_free(void* p, const char* call);
HZ_COLD_TAIL void* report_bad_free_list(void* b);

// A block going onto a free list: false, and no change, if it is on one
// already (a double free; the caller reports it by a tail call, so the fast
// path needs no stack frame).
// class_key: the class's kTables.key (a Bin's key).
HZ_INLINE bool mark_free(FreeBlock* b, uint64_t class_key) {
  if constexpr (kFreeKey) {
    uint64_t k = free_key_of(b, class_key);
    if (HZ_UNLIKELY(b->key == k)) return false;
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
    // An opaque store: GCC's -O3 would pair it with the push's link store
    // into one SSE store built from two registers (three instructions more).
    asm("movq %1, %0" : "=m"(b->key) : "r"(k));
#else
    b->key = k;
#endif
  }
  (void)b, (void)class_key;
  return true;
}

// A block being handed out: clears its key, and false if it had none (the
// list that held it was written after free: its link led elsewhere). The
// check is the clear itself, an xor that must leave zero: it fails too for a
// free block of another class.
HZ_INLINE bool take_in_use(FreeBlock* b, uint64_t class_key) {
  if constexpr (kFreeKey) {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
    // One xor into memory whose flags give the answer (GCC splits the C form
    // below into load, xor, store and compare).
    bool had_other;
    asm("xorq %2, %0" : "+m"(b->key), "=@ccnz"(had_other) : "r"(free_key_of(b, class_key)));
    return !had_other;
#else
    b->key ^= free_key_of(b, class_key);
    return b->key == 0;
#endif
  }
  (void)b, (void)class_key;
  return true;
}

// True if p, a block of small class cls, is free (no side effect).
HZ_INLINE bool is_free_block(const void* p, unsigned cls) {
  return kFreeKey && static_cast<const FreeBlock*>(p)->key == free_key(static_cast<const FreeBlock*>(p), cls);
}

}  // namespace hz
