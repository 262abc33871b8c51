// A program built without optimisation, with its own out-of-line copies of
// inline functions that an unoptimised libhakozuna.a also has (std::atomic,
// std::array). Linked before the archive, its copies come first.
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>

std::atomic<bool> flag{false};
std::atomic<void*> ptr{nullptr};
const std::array<unsigned, 64> table{};

int main() {
  flag.store(true, std::memory_order_release);
  bool was = flag.exchange(false, std::memory_order_acq_rel);
  void* p = malloc(100);
  ptr.store(p, std::memory_order_release);
  free(ptr.exchange(nullptr, std::memory_order_acq_rel));
  std::printf("%d %u\n", was && !flag.load(std::memory_order_acquire), table[3]);
  return 0;
}
