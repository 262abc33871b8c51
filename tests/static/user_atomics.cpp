// A program built without optimisation, with its own out-of-line copies of
// inline functions that an unoptimised libhakozuna.a also has (std::atomic,
// std::array). Linked before the archive, its copies come first.
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>

// Referenced here too, so that the linker defines them even where the
// archive does not use them (idle return is compiled out under TSan).
extern "C" char __start_hz_text[] __attribute__((weak));
extern "C" char __stop_hz_text[] __attribute__((weak));

std::atomic<bool> flag{false};
std::atomic<void*> ptr{nullptr};
const std::array<unsigned, 64> table{};

int main() {
  flag.store(true, std::memory_order_release);
  bool was = flag.exchange(false, std::memory_order_acq_rel);
  void* p = malloc(100);
  ptr.store(p, std::memory_order_release);
  free(ptr.exchange(nullptr, std::memory_order_acq_rel));
  std::printf("%d %u %d\n", was && !flag.load(std::memory_order_acquire), table[3], __stop_hz_text > __start_hz_text);
  return 0;
}
