// Failing operator new, every form: std::bad_alloc, the new-handler, nothrow.
// Plain (not linked with hakozuna): run with and without LD_PRELOAD, stdout
// must be byte-identical. Also linked with libhakozuna.a (--whole-archive), and
// built as a module (HZ_PROBE_MODULE: probe_main) that a C program dlopens
// RTLD_LOCAL, so its C++ runtime is not in the global scope.
// stderr names the objects that define operator new and malloc, so the test
// can check which allocator answered.
#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

// volatile: the compiler must not see (or fold) the impossible sizes.
volatile std::size_t v_4eib = std::size_t{1} << 62;             // beyond any address space
volatile std::size_t v_above_ptrdiff = std::size_t{1} << 63;    // above PTRDIFF_MAX
volatile std::size_t v_size_max = SIZE_MAX;
// Aligned forms skip SIZE_MAX: libstdc++ 12 rounds it up to the alignment with
// wrap-around and returns a tiny block, which hakozuna does not copy.

int g_calls = 0;
int g_uninstall_after = 0;
void counting_handler() {  // runs g_uninstall_after times, then lets new fail
  if (++g_calls >= g_uninstall_after) std::set_new_handler(nullptr);
}
struct my_oom : std::bad_alloc {
  const char* what() const noexcept override { return "my_oom"; }
};
void throwing_handler() {
  ++g_calls;
  throw my_oom();
}

enum Handler { kNone, kCount3, kThrow };
const char* const kHandlerName[] = {"none", "count3", "throws"};
void install(Handler h) {
  g_calls = 0;
  g_uninstall_after = 3;
  std::set_new_handler(h == kNone ? nullptr : h == kCount3 ? counting_handler : throwing_handler);
}

void* sink;  // keeps results observable

template <class F>
void throwing(const char* form, const char* size, Handler h, F&& f) {
  install(h);
  const char* got = "returned a block (WRONG)";
  try {
    sink = f();
  } catch (const my_oom&) {
    got = "threw my_oom";
  } catch (const std::bad_alloc&) {
    got = "threw bad_alloc";
  } catch (...) {
    got = "threw something else (WRONG)";
  }
  std::set_new_handler(nullptr);
  std::printf("%-26s %-12s handler=%-6s %s, handler ran %d times\n", form, size, kHandlerName[h], got, g_calls);
}

template <class F>
void nothrow(const char* form, const char* size, Handler h, F&& f) {
  install(h);
  sink = f();
  std::set_new_handler(nullptr);
  std::printf("%-26s %-12s handler=%-6s %s, handler ran %d times\n", form, size, kHandlerName[h],
              sink ? "returned a block (WRONG)" : "returned nullptr", g_calls);
}

const char* object_of(const void* addr) {
  Dl_info info;
  return dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "?";
}

}  // namespace

#ifdef HZ_PROBE_MODULE
extern "C" __attribute__((visibility("default"))) int probe_main() {
#else
int main() {
#endif
  std::fprintf(stderr, "probe: operator new in %s\n",
               object_of(reinterpret_cast<const void*>(static_cast<void* (*)(std::size_t)>(&::operator new))));
  std::fprintf(stderr, "probe: malloc in %s\n", object_of(reinterpret_cast<const void*>(&malloc)));

  // Successful forms first: the library works as the C++ allocator.
  std::vector<std::string> v;
  for (int i = 0; i < 1000; ++i) v.push_back(std::string(50 + i % 300, 'a' + i % 26));
  std::size_t sum = 0;
  for (auto& s : v) sum += s.size() + static_cast<unsigned char>(s[s.size() / 2]);
  void* a = ::operator new(100, std::align_val_t(4096));
  void* b = ::operator new[](5000, std::align_val_t(64), std::nothrow);
  std::printf("ok: strings sum %zu, aligned 4096 %s, aligned 64 nothrow %s\n", sum,
              reinterpret_cast<std::uintptr_t>(a) % 4096 ? "WRONG" : "ok",
              b && reinterpret_cast<std::uintptr_t>(b) % 64 == 0 ? "ok" : "WRONG");
  ::operator delete(a, std::align_val_t(4096));
  ::operator delete[](b, std::align_val_t(64));

  const std::align_val_t al{64};
  for (Handler h : {kNone, kCount3, kThrow}) {
    throwing("new", "2^62", h, [] { return ::operator new(v_4eib); });
    throwing("new", "2^63", h, [] { return ::operator new(v_above_ptrdiff); });
    throwing("new", "SIZE_MAX", h, [] { return ::operator new(v_size_max); });
    throwing("new[]", "2^62", h, [] { return ::operator new[](v_4eib); });
    throwing("new char[]", "2^62", h, [] { return static_cast<void*>(new char[v_4eib]); });
    throwing("new(align 64)", "2^62", h, [&] { return ::operator new(v_4eib, al); });
    throwing("new(align 64)", "2^63", h, [&] { return ::operator new(v_above_ptrdiff, al); });
    throwing("new[](align 64)", "2^62", h, [&] { return ::operator new[](v_4eib, al); });
    nothrow("new(nothrow)", "2^62", h, [] { return ::operator new(v_4eib, std::nothrow); });
    nothrow("new(nothrow)", "SIZE_MAX", h, [] { return ::operator new(v_size_max, std::nothrow); });
    nothrow("new[](nothrow)", "2^62", h, [] { return ::operator new[](v_4eib, std::nothrow); });
    nothrow("new(nothrow) char[]", "2^62", h, [] { return static_cast<void*>(new (std::nothrow) char[v_4eib]); });
    nothrow("new(align 64, nothrow)", "2^62", h, [&] { return ::operator new(v_4eib, al, std::nothrow); });
    nothrow("new(align 64, nothrow)", "2^63", h, [&] { return ::operator new(v_above_ptrdiff, al, std::nothrow); });
    nothrow("new[](align 64, nothrow)", "2^62", h, [&] { return ::operator new[](v_4eib, al, std::nothrow); });
  }
  std::puts("done");
  std::fflush(stdout);
  return 0;
}
