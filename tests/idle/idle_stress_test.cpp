// Idle return under attack (budget/idle_return.h): with a purge delay of a
// few milliseconds the purger tries to take every worker's cache many times a
// second, while the workers allocate, free locally and remotely, sleep in
// system calls, and are interrupted by a signal whose handler sleeps in one,
// often in the middle of a malloc or free. No block may be handed out twice:
// each live block carries its owner's stamp at both ends, checked when freed.
// Linked against libhakozuna.so; runs with HAKOZUNA_PURGE_DELAY_MS=4.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

constexpr unsigned kWorkers = 6;
constexpr unsigned kLive = 256;

struct Block {
  uint64_t* p = nullptr;
  size_t size = 0;
  uint64_t stamp = 0;
};

void stamp(Block& b) {
  b.p[0] = b.stamp;
  b.p[b.size / 8 - 1] = ~b.stamp;
}

std::atomic<uint64_t> g_bad{0};
void check(const Block& b) {
  if (b.p[0] != b.stamp || b.p[b.size / 8 - 1] != ~b.stamp) g_bad++;
}

// Blocks handed to another worker, freed there (remote frees).
std::mutex g_mu;
std::vector<Block> g_handoff;

std::atomic<uint64_t> g_signals{0};
void on_signal(int) {
  // Sleeps in a system call with whatever it interrupted (often a malloc
  // or free) half done on the stack below.
  struct timespec ts = {0, 3 * 1000 * 1000};
  nanosleep(&ts, nullptr);
  g_signals.fetch_add(1, std::memory_order_relaxed);
}

void worker(unsigned id, std::chrono::steady_clock::time_point end) {
  std::vector<Block> live(kLive);
  uint64_t seq = uint64_t{id} << 48;
  unsigned rnd = id * 7919 + 1;
  auto next = [&rnd] { return rnd = rnd * 1103515245u + 12345u; };
  while (std::chrono::steady_clock::now() < end) {
    for (unsigned i = 0; i < 2000; ++i) {
      Block& b = live[next() % kLive];
      if (b.p) {
        check(b);
        if (next() % 8 == 0) {
          std::lock_guard<std::mutex> g(g_mu);
          g_handoff.push_back(b);
        } else {
          free(b.p);
        }
      }
      b.size = 16 + (next() % 4096) / 16 * 16;
      b.p = static_cast<uint64_t*>(malloc(b.size));
      b.stamp = ++seq;
      stamp(b);
    }
    std::vector<Block> mine;
    {
      std::lock_guard<std::mutex> g(g_mu);
      mine.swap(g_handoff);
    }
    for (Block& b : mine) {
      check(b);
      free(b.p);
    }
    // A sleep in a system call, outside the allocator: the purger may take
    // the cache now.
    struct timespec ts = {0, static_cast<long>(next() % 3000) * 1000};
    nanosleep(&ts, nullptr);
  }
  for (Block& b : live)
    if (b.p) {
      check(b);
      free(b.p);
    }
}

TEST(IdleReturn, NoBlockHandedOutTwiceWhileCachesAreTaken) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < kWorkers; ++i) threads.emplace_back(worker, i, end);
  std::vector<pthread_t> handles;
  for (auto& t : threads) handles.push_back(t.native_handle());
  unsigned rnd = 1;
  while (std::chrono::steady_clock::now() < end) {
    rnd = rnd * 1103515245u + 12345u;
    pthread_kill(handles[rnd % kWorkers], SIGUSR1);
    usleep(500);
  }
  for (auto& t : threads) t.join();
  for (Block& b : g_handoff) {
    check(b);
    free(b.p);
  }
  signal(SIGUSR1, SIG_DFL);
  printf("%llu signals\n", static_cast<unsigned long long>(g_signals.load()));
  EXPECT_EQ(g_bad.load(), 0u) << "blocks overwritten by another owner: handed out twice";
}

}  // namespace
