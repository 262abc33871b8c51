// C++ operators new/delete. Kept out of the core because throwing new needs
// exceptions: on failure it runs the new_handler and throws std::bad_alloc.
#include <cstddef>
#include <new>

#include "hakozuna.h"

extern "C" void* hz_memalign(size_t, size_t) noexcept;

namespace {

[[gnu::noinline]] void* new_slow(std::size_t size, std::size_t align, bool nothrow) {
  for (;;) {
    void* p = align ? hz_memalign(align, size) : hz_malloc(size);
    if (p) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        h();
      } catch (...) {
        return nullptr;
      }
    } else {
      h();
    }
  }
}

inline void* new_impl(std::size_t size) {
  void* p = hz_malloc(size);
  return __builtin_expect(p != nullptr, 1) ? p : new_slow(size, 0, false);
}
inline void* new_impl(std::size_t size, std::align_val_t a) {
  void* p = hz_memalign(static_cast<std::size_t>(a), size);
  return __builtin_expect(p != nullptr, 1) ? p : new_slow(size, static_cast<std::size_t>(a), false);
}
inline void* new_nothrow(std::size_t size) noexcept {
  void* p = hz_malloc(size);
  if (__builtin_expect(p != nullptr, 1)) return p;
  try {
    return new_slow(size, 0, true);
  } catch (...) {
    return nullptr;
  }
}
inline void* new_nothrow(std::size_t size, std::align_val_t a) noexcept {
  void* p = hz_memalign(static_cast<std::size_t>(a), size);
  if (__builtin_expect(p != nullptr, 1)) return p;
  try {
    return new_slow(size, static_cast<std::size_t>(a), true);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

#define HZ_NEW_EXPORT __attribute__((visibility("default")))

HZ_NEW_EXPORT void* operator new(std::size_t n) { return new_impl(n); }
HZ_NEW_EXPORT void* operator new[](std::size_t n) { return new_impl(n); }
HZ_NEW_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n); }
HZ_NEW_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n); }
HZ_NEW_EXPORT void* operator new(std::size_t n, std::align_val_t a) { return new_impl(n, a); }
HZ_NEW_EXPORT void* operator new[](std::size_t n, std::align_val_t a) { return new_impl(n, a); }
HZ_NEW_EXPORT void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(n, a);
}
HZ_NEW_EXPORT void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(n, a);
}

HZ_NEW_EXPORT void operator delete(void* p) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, std::size_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, std::size_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, std::align_val_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { hz_free(p); }
