// Linked with libhakozuna.a and the C++ runtime itself (-static-libstdc++):
// no runtime for dlsym to find at a failing operator new. Its throwing forms
// must still throw std::bad_alloc (through the runtime's
// std::__throw_bad_alloc, which any program using a standard container links
// in), and its nothrow forms return nullptr, also when the new-handler
// throws std::bad_alloc (it ended in std::terminate: a nothrow form cannot
// let the exception out). Before: "hakozuna: out of memory in operator new
// (no C++ runtime to throw std::bad_alloc)" and SIGABRT (break-it helpers'
// programs). Prints "new_static_cxx ok".
#include <cstddef>
#include <cstdio>
#include <new>
#include <string>
#include <vector>

namespace {
volatile std::size_t v_huge = std::size_t{1} << 62;
int g_handler_calls = 0;
void throwing_handler() {
  ++g_handler_calls;
  throw std::bad_alloc();
}

template <typename F>
bool throws_bad_alloc(F f) {
  try {
    f();
  } catch (const std::bad_alloc&) {
    return true;
  }
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);  // a standard container, as real programs have
  int bad = 0;
  bad += !throws_bad_alloc([] { ::operator delete(::operator new(v_huge)); });
  bad += !throws_bad_alloc([] { ::operator delete(::operator new(v_huge, std::align_val_t{64}), std::align_val_t{64}); });
  bad += !throws_bad_alloc([] { delete[] new char[v_huge]; });
  bad += ::operator new(v_huge, std::nothrow) != nullptr;
  bad += ::operator new(v_huge, std::align_val_t{4096}, std::nothrow) != nullptr;
  std::set_new_handler(throwing_handler);
  bad += !throws_bad_alloc([] { ::operator delete(::operator new(v_huge)); });
  bad += ::operator new(v_huge, std::nothrow) != nullptr;
  bad += ::operator new[](v_huge, std::nothrow) != nullptr;
  bad += ::operator new(v_huge, std::align_val_t{64}, std::nothrow) != nullptr;
  bad += g_handler_calls != 4;
  std::set_new_handler(nullptr);
  if (bad || args.empty()) {
    std::printf("new_static_cxx: %d forms wrong\n", bad);
    return 1;
  }
  std::puts("new_static_cxx ok");
  return 0;
}
