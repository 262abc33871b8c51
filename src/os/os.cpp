#include "os/os.h"

#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <time.h>

namespace hz::os {

void* reserve(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void release(void* p, size_t size) { munmap(p, size); }

void purge(void* p, size_t size) { madvise(p, size, MADV_DONTNEED); }

void advise_hugepages(void* p, size_t size) { madvise(p, size, MADV_HUGEPAGE); }

uint32_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>(static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000);
}

size_t backable_bytes() {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return ~size_t{0};
  return (static_cast<size_t>(si.totalram) + si.totalswap) * si.mem_unit;
}

}  // namespace hz::os
