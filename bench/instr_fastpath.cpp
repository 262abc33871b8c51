// instr_fastpath N SIZE [SIZE...]
//
// Single-thread fast path for instruction counting (tools/bench instr runs it
// under valgrind --tool=callgrind): N rounds, each doing one malloc(SIZE) + free
// pair per SIZE given. Prints which shared object provides malloc (so the
// runner can check that LD_PRELOAD took effect) and the number of pairs.
// Two blocks of each size stay live during the loop, so the measured pair does
// not empty its page/span each time (that would time a page-retire path that a
// real program, with other live blocks around, rarely takes).
// The runner runs it with two values of N and divides the difference in
// instructions by the difference in pairs: start-up and warm-up cancel out.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "bench_common.h"

using namespace hzb;

static void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s N SIZE [SIZE...]\n", argv[0]);
    return 1;
  }
  uint64_t n = arg_u64(argc, argv, 1, 0);
  size_t sizes[16];
  int nsizes = 0;
  for (int i = 2; i < argc && nsizes < 16; ++i) sizes[nsizes++] = (size_t)arg_u64(argc, argv, i, 16);

  Dl_info info{};
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  const char* lib = (sym && dladdr(sym, &info) && info.dli_fname) ? info.dli_fname : "?";
  std::printf("ALLOCATOR malloc=%s\n", lib);

  void* anchor[32];
  for (int k = 0; k < nsizes; ++k) {
    anchor[2 * k] = std::malloc(sizes[k]);
    anchor[2 * k + 1] = std::malloc(sizes[k]);
  }
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; ++i)
    for (int k = 0; k < nsizes; ++k) {
      void* p = std::malloc(sizes[k]);
      escape(p);
      sum += (uintptr_t)p & 1;  // never 1 for a real allocator; keeps p live
      std::free(p);
    }
  for (int k = 0; k < 2 * nsizes; ++k) std::free(anchor[k]);
  if (sum) die("malloc returned odd pointers");
  std::printf("RESULT name=instr_fastpath pairs=%llu sizes=%d\n", (unsigned long long)(n * nsizes), nsizes);
  return 0;
}
