#include "track/memcheck.h"

#include <cstdint>

namespace hz::track {

constinit bool g_active = false;

namespace {

// Request codes from valgrind.h and memcheck.h (a stable, documented ABI:
// "do not change the order of these entries").
constexpr uintptr_t kMallocLike = 0x1301;
constexpr uintptr_t kFreeLike = 0x1302;
constexpr uintptr_t kMemcheckBase = uintptr_t{'M'} << 24 | uintptr_t{'C'} << 16;
constexpr uintptr_t kMakeMemDefined = kMemcheckBase + 2;
constexpr uintptr_t kGetVbits = kMemcheckBase + 8;
constexpr uintptr_t kRunningOnValgrind = 0x1001;

// The words of a free block the allocator reads and writes (arena.h:
// FreeBlock's link and free key, then the batch header), and the free key's
// place, which a block keeps (cleared) once handed out.
constexpr size_t kFreeBlockWords = 3 * sizeof(void*);
constexpr size_t kKeyWord = sizeof(void*), kKeyEnd = 2 * sizeof(void*);

// One client request: the special no-op sequence valgrind's JIT recognises
// (the four rotations of rdi add up to 128 bits). Outside valgrind it returns
// dflt; on other architectures it is never made.
uintptr_t request(uintptr_t dflt, uintptr_t req, uintptr_t a1, uintptr_t a2 = 0, uintptr_t a3 = 0,
                  uintptr_t a4 = 0) {
#if defined(__x86_64__)
  volatile uintptr_t args[6] = {req, a1, a2, a3, a4, 0};
  uintptr_t result;
  __asm__ volatile(
      "rolq $3, %%rdi; rolq $13, %%rdi\n\t"
      "rolq $61, %%rdi; rolq $51, %%rdi\n\t"
      "xchgq %%rbx, %%rbx"
      : "=d"(result)
      : "a"(&args[0]), "0"(dflt)
      : "cc", "memory");
  return result;
#else
  (void)req, (void)a1, (void)a2, (void)a3, (void)a4;
  return dflt;
#endif
}

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace

void init() {
  static constinit bool done = false;
  if (done) return;
  done = true;
  // Only memcheck answers GET_VBITS (1: copied); outside valgrind, and under
  // callgrind (tools/bench instr), the default 0 comes back.
  char byte = 0, vbits = 0;
  g_active = request(0, kGetVbits, addr(&byte), addr(&vbits), 1) == 1;
}

bool under_valgrind() { return request(0, kRunningOnValgrind, 0) != 0; }

void on_alloc(void* p, size_t size) {
  if (!g_active) return;
  request(0, kMallocLike, addr(p), size, 0, 0);
  if (size >= kKeyEnd) request(0, kMakeMemDefined, addr(p) + kKeyWord, kKeyEnd - kKeyWord);
}

void on_free(void* p, size_t size) {
  if (!g_active) return;
  request(0, kFreeLike, addr(p), 0);
  request(0, kMakeMemDefined, addr(p), size < kFreeBlockWords ? size : kFreeBlockWords);
}

void on_alloc_span(void* p, size_t size, bool zeroed) {
  if (g_active) request(0, kMallocLike, addr(p), size, 0, zeroed);
}

void on_free_span(void* p) {
  if (g_active) request(0, kFreeLike, addr(p), 0);
}

void on_span(void* p, size_t bytes) {
  if (g_active) request(0, kMakeMemDefined, addr(p), bytes);
}

}  // namespace hz::track
