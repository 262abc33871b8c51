// Shared by the idle-return tests: threads that fill their caches and then
// sleep without calling the allocator.
#pragma once
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "../budget/reach_util.h"

namespace idle_test {

// Sizes of 1-32 KiB, many classes: each thread's bins and spill fill to
// their bounds in each.
size_t size_of(unsigned i) { return 1024 + (i * 2654435761u) % (31 * 1024); }

// Each of n threads allocates and writes mb MiB, frees it all, and sleeps.
struct Sleepers {
  reach::Parked park;
  std::vector<std::thread> threads;
  std::atomic<unsigned> done{0};
  Sleepers(unsigned n, size_t mb) {
    for (unsigned t = 0; t < n; ++t)
      threads.emplace_back([this, mb, t] {
        std::vector<void*> blocks;
        blocks.reserve(mb * 1024);
        size_t bytes = 0;
        for (unsigned i = t * 7919; bytes < (mb << 20); ++i) {
          size_t s = size_of(i);
          void* p = malloc(s);
          memset(p, 0x5a, s);
          blocks.push_back(p);
          bytes += s;
        }
        for (void* p : blocks) free(p);
        std::vector<void*>().swap(blocks);
        done++;
        park.wait();
      });
    while (done.load() < n) usleep(1000);
  }
  ~Sleepers() {
    park.release();
    for (auto& t : threads) t.join();
  }
};

}  // namespace idle_test
