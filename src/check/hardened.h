// Hardened build (kHardened, -DHAKOZUNA_HARDENED=ON): a layer over the core
// allocator at the API entry points, plus a few hooks where spans and runs are
// made (each `if constexpr (kHardened)`, nothing in other builds).
//
//   - every block ends in an 8-byte canary (per-process secret and the
//     block's address; first byte zero): an overflow is caught at free;
//   - a freed block is zeroed, and checked to be zero when it is handed out
//     again (a write after free, or an underflow into a free block, is
//     caught), so blocks also come out zeroed;
//   - freed blocks wait in a per-thread quarantine (bounded in blocks and
//     bytes), which evicts a random one: reuse is delayed and unpredictable,
//     and a double free while a block waits is caught by its free key;
//   - runs are carved in shuffled order;
//   - a page span has an inaccessible guard page after it, and freed spans
//     and released runs are made inaccessible and purged until reused.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/base.h"

namespace hz {
struct FreeBlock;
struct RunMeta;
}

namespace hz::hardened {

// The secret, from the kernel's AT_RANDOM bytes; before any block exists.
void init();

void* malloc(size_t size);
void* calloc(size_t total);
void* aligned(size_t align, size_t size);
void free(void* p, const char* call);
// Sized frees: exact (C++ sized delete: the block this size would get) or
// loose (free_sized, aligned sized delete: the size fits the block).
void free_sized(void* p, size_t size, SizeCheck how);
void* realloc(void* p, size_t size);
size_t usable_size(const void* p);
// Releases this thread's quarantine (thread exit, malloc_trim, exit), checking
// that nothing wrote to its blocks, and the freed spans waiting (the
// exhaustion sequence).
void flush_quarantine();
void flush_spans();

// Hooks in the core: a new run's blocks are zeroed and linked in random
// order; a span is made accessible before use (false: the kernel refused)
// and inaccessible and purged when freed.
FreeBlock* shuffle_carved(char* base, unsigned n, unsigned cls, FreeBlock** last);
bool open_span(void* p, size_t bytes);
void close_span(void* p, size_t bytes);
// Makes the page(s) after a run inaccessible.
void guard(void* p, size_t bytes);

}  // namespace hz::hardened
