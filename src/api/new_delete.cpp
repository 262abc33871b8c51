// C++ operators new/delete, needing no C++ runtime at link time: libhakozuna.so
// depends on libc.so.6 alone, so a C program (even /bin/true) loads nothing more
// at start-up.
//
// Fast path: hz_malloc. When it fails, the program's own C++ runtime finishes
// the job: its operator new of the same form (found with dlsym at the first
// failure) loops on malloc -- ours -- running the new-handler, and throws
// std::bad_alloc; its nothrow forms catch that. So exceptions and the handler
// come from the runtime the program really uses. This file is compiled with
// -fno-exceptions -fno-rtti; bad_alloc unwinds through these frames by their
// asynchronous unwind tables (.eh_frame), which need no personality routine.
#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "hakozuna.h"

extern "C" void hz_delete_sized(void*, size_t) noexcept;  // size checked exactly
extern "C" void hz_delete_aligned_sized(void*, size_t) noexcept;  // size fits the block
namespace hz {
[[noreturn]] void fatal(const char* msg);  // common/base.h: "hakozuna: <msg>", abort
}
// new_catch.cpp: runs h; true if it threw.
extern "C" bool hz_new_handler_threw(std::new_handler h) noexcept;

// std::get_new_handler, weak: non-null only when a C++ runtime is linked in
// (used when none can be found with dlsym, e.g. -static-libstdc++).
std::new_handler hz_weak_get_new_handler() noexcept __asm__("_ZSt15get_new_handlerv")
    __attribute__((weak));
// std::__throw_bad_alloc, weak likewise: where libstdc++ is linked in
// statically (its functexcept object, which every program using a standard
// container pulls in), the throw that no runtime found by dlsym can make.
[[noreturn]] void hz_weak_throw_bad_alloc() __asm__("_ZSt17__throw_bad_allocv") __attribute__((weak));

namespace {

// The runtime's scalar forms; array forms use them too, as the standard's
// default operator new[] calls operator new. ("m": size_t is unsigned long.)
static_assert(sizeof(std::size_t) == sizeof(unsigned long));
enum Form { kPlain, kNothrow, kAligned, kAlignedNothrow, kForms };
constexpr const char* kMangled[kForms] = {"_Znwm", "_ZnwmRKSt9nothrow_t", "_ZnwmSt11align_val_t",
                                          "_ZnwmSt11align_val_tRKSt9nothrow_t"};
void* g_runtime[kForms];  // found ones only: a runtime may be dlopen'd later

void* lookup(Form f) {
  // The definition after ours in the global scope: under LD_PRELOAD the
  // program's libstdc++; linked statically, the one the executable uses.
  void* fn = dlsym(RTLD_NEXT, kMangled[f]);
  const bool missed = !fn;
  // Or a runtime loaded RTLD_LOCAL (a C++ module of a C program). The handle
  // stays open: we keep calling into it.
  static const char* const kRuntimes[] = {"libstdc++.so.6", "libc++.so.1"};
  for (const char* lib : kRuntimes) {
    if (fn) break;
    if (void* h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) fn = dlsym(h, kMangled[f]);
  }
  if (missed) dlerror();  // do not leave our failed look-up for the program to read
  return fn;
}

void* runtime(Form f) {
  void* fn = __atomic_load_n(&g_runtime[f], __ATOMIC_ACQUIRE);
  if (!fn && (fn = lookup(f))) __atomic_store_n(&g_runtime[f], fn, __ATOMIC_RELEASE);
  return fn;
}

// No C++ runtime to throw with: run the new-handler if one is reachable, then
// nothrow forms fail with nullptr and throwing forms abort. A nothrow form
// runs it through new_catch.cpp: an exception it throws means nullptr.
void* no_runtime(std::size_t size, std::size_t align, bool nothrow) {
  for (;;) {
    void* p = align ? hz_memalign(align, size) : hz_malloc(size);
    if (p) return p;
    std::new_handler h = hz_weak_get_new_handler ? hz_weak_get_new_handler() : nullptr;
    if (!h) break;
    if (!nothrow) {
      h();
    } else if (hz_new_handler_threw(h)) {
      return nullptr;
    }
  }
  if (nothrow) return nullptr;
  if (hz_weak_throw_bad_alloc) hz_weak_throw_bad_alloc();
  hz::fatal("out of memory in operator new (no C++ runtime to throw std::bad_alloc)");
}

[[gnu::cold, gnu::noinline]] void* new_failed(std::size_t size, std::size_t align, bool nothrow) {
  const Form f = static_cast<Form>((align ? kAligned : kPlain) + (nothrow ? 1 : 0));
  void* fn = runtime(f);
  if (!fn) return no_runtime(size, align, nothrow);
  const std::nothrow_t nt{};  // not std::nothrow: that object lives in libstdc++
  if (!align) {
    if (nothrow) return reinterpret_cast<void* (*)(std::size_t, const std::nothrow_t&)>(fn)(size, nt);
    return reinterpret_cast<void* (*)(std::size_t)>(fn)(size);
  }
  // Sizes above PTRDIFF_MAX fail anyway, but libstdc++ 12 rounds size up to the
  // alignment with wrap-around (a tiny block for SIZE_MAX); 2^63 fails for every
  // alignment.
  if (size > static_cast<std::size_t>(PTRDIFF_MAX)) size = std::size_t{1} << 63;
  const std::align_val_t a{align};
  if (nothrow)
    return reinterpret_cast<void* (*)(std::size_t, std::align_val_t, const std::nothrow_t&)>(fn)(size, a, nt);
  return reinterpret_cast<void* (*)(std::size_t, std::align_val_t)>(fn)(size, a);
}

inline void* new_impl(std::size_t size) {
  void* p = hz_malloc(size);
  return __builtin_expect(p != nullptr, 1) ? p : new_failed(size, 0, false);
}
inline void* new_impl(std::size_t size, std::align_val_t a) {
  void* p = hz_memalign(static_cast<std::size_t>(a), size);
  return __builtin_expect(p != nullptr, 1) ? p : new_failed(size, static_cast<std::size_t>(a), false);
}
inline void* new_nothrow(std::size_t size) noexcept {
  void* p = hz_malloc(size);
  return __builtin_expect(p != nullptr, 1) ? p : new_failed(size, 0, true);
}
inline void* new_nothrow(std::size_t size, std::align_val_t a) noexcept {
  void* p = hz_memalign(static_cast<std::size_t>(a), size);
  return __builtin_expect(p != nullptr, 1) ? p : new_failed(size, static_cast<std::size_t>(a), true);
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
HZ_NEW_EXPORT void operator delete(void* p, std::size_t n) noexcept { hz_delete_sized(p, n); }
HZ_NEW_EXPORT void operator delete[](void* p, std::size_t n) noexcept { hz_delete_sized(p, n); }
HZ_NEW_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, std::align_val_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete(void* p, std::size_t n, std::align_val_t) noexcept { hz_delete_aligned_sized(p, n); }
HZ_NEW_EXPORT void operator delete[](void* p, std::size_t n, std::align_val_t) noexcept { hz_delete_aligned_sized(p, n); }
HZ_NEW_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { hz_free(p); }
HZ_NEW_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { hz_free(p); }
