// Helpers shared by the tests/api suites (the library is the process allocator).
#pragma once

#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "hakozuna.h"

namespace hzt {

// Keep the optimizer from eliding an allocation/free pair or a store.
inline void escape(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

// Resident set size in bytes, from /proc/self/statm (resident pages x page size).
inline size_t rss_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

inline bool is_aligned(const void* p, size_t a) {
  return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0;
}

// Name of the shared object (or executable) that contains code address `fn`.
inline std::string object_of(const void* fn) {
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (dladdr(fn, &info) == 0 || info.dli_fname == nullptr) return "<unknown>";
  return info.dli_fname;
}

// True when `fn` is not provided by glibc / libstdc++ (so it is hakozuna's,
// which is linked into the test executable).
inline bool from_system_lib(const void* fn) {
  std::string o = object_of(fn);
  return o.find("libc.so") != std::string::npos ||
         o.find("libstdc++") != std::string::npos ||
         o.find("ld-linux") != std::string::npos;
}

// Deterministic byte pattern for block `id` at offset `i`.
inline unsigned char pat(size_t id, size_t i) {
  return static_cast<unsigned char>((id * 131u + i * 7u + (i >> 8)) ^ 0x5a);
}

inline void fill(void* p, size_t n, size_t id) {
  unsigned char* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = pat(id, i);
}

// Returns the first offset < n that does not hold the pattern, or n if intact.
inline size_t check(const void* p, size_t n, size_t id) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != pat(id, i)) return i;
  return n;
}

inline bool all_zero(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

}  // namespace hzt
