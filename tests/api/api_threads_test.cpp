// A.4 — threads: cross-thread frees, thread-exit cache return, fork safety.
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api_util.h"

namespace {

struct Block {
  unsigned char* p;
  size_t n;
  size_t id;
};

size_t mix_size(size_t i) {
  static const size_t kSizes[] = {8,   16,   24,   40,    64,    100,   128,   200,
                                  256, 512,  1000, 2048,  4000,  8192,  16384, 33000,
                                  24,  48,   72,   70000, 96,    160,   300,   260000};
  return kSizes[i % (sizeof kSizes / sizeof kSizes[0])];
}

// Bounded MPSC-style queue (mutex + condvar): ordering is irrelevant here.
class Queue {
 public:
  void push(std::vector<Block>&& batch) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return q_.size() < 64; });
    q_.push_back(std::move(batch));
    cv_.notify_all();
  }
  bool pop(std::vector<Block>* out) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return !q_.empty() || done_; });
    if (q_.empty()) return false;
    *out = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<Block>> q_;
  bool done_ = false;
};

}  // namespace

TEST(Threads, ConsumerFreesProducersBlocks) {
  constexpr int kProducers = 2;
  constexpr size_t kPerProducer = 150000;
  Queue q;
  std::atomic<size_t> bad{0}, freed{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 2; ++c)
    consumers.emplace_back([&] {
      std::vector<Block> batch;
      while (q.pop(&batch)) {
        for (const Block& b : batch) {
          if (hzt::check(b.p, b.n, b.id) != b.n) bad++;
          if (malloc_usable_size(b.p) < b.n) bad++;
          free(b.p);
          freed++;
        }
      }
    });
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t)
    producers.emplace_back([&, t] {
      std::vector<Block> batch;
      for (size_t i = 0; i < kPerProducer; ++i) {
        size_t id = t * kPerProducer + i;
        size_t n = mix_size(i * 7 + t);
        if (n > 4096 && i % 16 != 0) n = 48;  // mostly small, some big
        auto* p = static_cast<unsigned char*>(malloc(n));
        if (p == nullptr) {
          bad++;
          continue;
        }
        hzt::fill(p, n, id);
        batch.push_back({p, n, id});
        if (batch.size() == 256) {
          q.push(std::move(batch));
          batch.clear();
        }
        // Also some local churn so the producer's cache is busy.
        if (i % 4 == 0) free(malloc(mix_size(i)));
      }
      q.push(std::move(batch));
    });
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(bad.load(), 0u) << "blocks arrived corrupted or too small";
  EXPECT_EQ(freed.load(), kProducers * kPerProducer);
}

// Blocks handed back and forth: the freeing thread reallocs and returns them.
TEST(Threads, PingPongReallocAcrossThreads) {
  Queue to_b, to_a;
  std::atomic<size_t> bad{0};
  std::thread b([&] {
    std::vector<Block> batch;
    while (to_b.pop(&batch)) {
      for (Block& blk : batch) {
        if (hzt::check(blk.p, blk.n, blk.id) != blk.n) bad++;
        size_t nn = blk.n * 3 + 5;
        blk.p = static_cast<unsigned char*>(realloc(blk.p, nn));
        if (!blk.p || hzt::check(blk.p, blk.n, blk.id) != blk.n) bad++;
        blk.n = nn;
        hzt::fill(blk.p, nn, blk.id);
      }
      to_a.push(std::move(batch));
    }
    to_a.close();
  });
  std::thread a([&] {
    for (size_t r = 0; r < 400; ++r) {
      std::vector<Block> batch;
      for (size_t i = 0; i < 100; ++i) {
        size_t n = mix_size(r + i) % 5000 + 1;
        auto* p = static_cast<unsigned char*>(malloc(n));
        hzt::fill(p, n, r * 100 + i);
        batch.push_back({p, n, r * 100 + i});
      }
      to_b.push(std::move(batch));
    }
    to_b.close();
  });
  std::vector<Block> batch;
  while (to_a.pop(&batch))
    for (Block& blk : batch) {
      if (hzt::check(blk.p, blk.n, blk.id) != blk.n) bad++;
      free(blk.p);
    }
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0u);
}

// 20 000 short-lived threads, 4 at a time; each churns a mix of sizes and hands
// some blocks to its successor, which frees them. Exited threads must give their
// caches back: RSS after the run is within 8 MB of RSS after the first batch.
TEST(Threads, ThreadExitReturnsCaches) {
  constexpr int kTotal = 20000;
  constexpr int kWidth = 4;
  constexpr int kHandoff = 24;
  std::vector<std::vector<Block>> handoff(kWidth);
  std::atomic<size_t> bad{0};

  auto body = [&](int slot, size_t seed) {
    std::vector<Block>& in = handoff[slot];
    for (const Block& b : in) {
      if (hzt::check(b.p, b.n, b.id) != b.n) bad++;
      free(b.p);
    }
    in.clear();
    void* live[64];
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 64; ++i) {
        size_t n = mix_size(seed + i * 5 + round);
        live[i] = malloc(n);
        if (!live[i]) {
          bad++;
          continue;
        }
        memset(live[i], int(i), n < 256 ? n : 256);
      }
      for (int i = 63; i >= 0; --i) free(live[i]);
    }
    for (int i = 0; i < kHandoff; ++i) {
      size_t n = mix_size(seed * 3 + i);
      auto* p = static_cast<unsigned char*>(malloc(n));
      if (!p) {
        bad++;
        continue;
      }
      hzt::fill(p, n, seed + i);
      in.push_back({p, n, seed + i});
    }
  };

  size_t baseline = 0;
  for (int started = 0, batch = 0; started < kTotal; started += kWidth, ++batch) {
    std::thread ts[kWidth];
    for (int s = 0; s < kWidth; ++s) ts[s] = std::thread(body, s, size_t(started + s));
    for (int s = 0; s < kWidth; ++s) ts[s].join();
    if (batch == 0) baseline = hzt::rss_bytes();
  }
  for (auto& v : handoff)
    for (const Block& b : v) free(b.p);
  size_t end = hzt::rss_bytes();
  printf("RSS after the first batch: %zu KiB; after %d threads: %zu KiB\n", baseline >> 10, kTotal,
         end >> 10);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_LT(end, baseline + (size_t(8) << 20))
      << "RSS grew from " << (baseline >> 10) << " KiB after the first batch to "
      << (end >> 10) << " KiB after " << kTotal << " threads";
}

// fork() while other threads allocate: the child's heap must be usable
// (malloc, a thread that mallocs/frees, freeing a pre-fork block) and exit 0.
TEST(Threads, ForkWhileOtherThreadsAllocate) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 3; ++t)
    churn.emplace_back([&, t] {
      std::vector<void*> v;
      size_t i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        v.push_back(malloc(mix_size(i++ + t)));
        if (v.size() > 500) {
          for (void* p : v) free(p);
          v.clear();
        }
        if (i % 97 == 0) free(realloc(malloc(100), 70000));
      }
      for (void* p : v) free(p);
    });

  int failures = 0;
  for (int iter = 0; iter < 100 && failures == 0; ++iter) {
    auto* pre = static_cast<unsigned char*>(malloc(1000));
    ASSERT_NE(pre, nullptr);
    hzt::fill(pre, 1000, iter);
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      alarm(20);  // belt and braces: never outlive the parent's patience
      int code = 0;
      void* a = malloc(100);
      void* b = malloc(300000);
      if (!a || !b) code = 2;
      if (hzt::check(pre, 1000, iter) != 1000) code = 3;
      free(pre);
      pthread_t th;
      auto fn = [](void*) -> void* {
        for (int i = 0; i < 2000; ++i) {
          void* p = malloc(mix_size(i));
          if (!p) return reinterpret_cast<void*>(1);
          memset(p, 1, 8);
          free(p);
        }
        return nullptr;
      };
      if (pthread_create(&th, nullptr, fn, nullptr) != 0) _exit(4);
      void* ret = nullptr;
      pthread_join(th, &ret);
      if (ret != nullptr) code = 5;
      free(a);
      free(b);
      _exit(code);
    }
    free(pre);
    int status = 0;
    pid_t r = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      r = waitpid(pid, &status, WNOHANG);
      if (r != 0) break;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec >= 10) break;
      usleep(1000);
    }
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "fork iteration " << iter << ": child hung for 10 s (deadlock after fork)";
      failures++;
      continue;
    }
    ASSERT_EQ(r, pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ADD_FAILURE() << "fork iteration " << iter << ": child "
                    << (WIFEXITED(status) ? "exited with " : "killed by signal ")
                    << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
      failures++;
    }
  }
  stop = true;
  for (auto& t : churn) t.join();
}

namespace {
pthread_key_t g_late_key;
std::atomic<size_t> g_late_bad{0};

void late_destructor(void* v) {
  // Runs during thread exit, possibly after hakozuna tore the thread's cache
  // down: allocation and free must still work here.
  auto* blocks = static_cast<Block*>(v);
  for (int i = 0; i < 8; ++i) {
    if (hzt::check(blocks[i].p, blocks[i].n, blocks[i].id) != blocks[i].n) g_late_bad++;
    free(blocks[i].p);
  }
  void* q = malloc(200);
  if (!q) g_late_bad++;
  memset(q, 3, 200);
  free(q);
  free(blocks);
}

struct TlsOwner {
  std::vector<std::string> strings;
  ~TlsOwner() {
    strings.clear();
    strings.shrink_to_fit();
    void* p = malloc(5000);
    memset(p, 1, 5000);
    free(p);
  }
};
thread_local TlsOwner t_owner;
}  // namespace

// Thread-exit destructors (C++ thread_local and pthread keys, which may run
// after hakozuna's own) allocate and free; repeated, RSS stays bounded.
TEST(Threads, AllocationInThreadExitDestructors) {
  ASSERT_EQ(pthread_key_create(&g_late_key, late_destructor), 0);
  auto body = [](size_t seed) {
    auto* blocks = static_cast<Block*>(malloc(8 * sizeof(Block)));
    for (int i = 0; i < 8; ++i) {
      size_t n = mix_size(seed + i);
      blocks[i].p = static_cast<unsigned char*>(malloc(n));
      blocks[i].n = n;
      blocks[i].id = seed * 8 + i;
      hzt::fill(blocks[i].p, n, blocks[i].id);
    }
    pthread_setspecific(g_late_key, blocks);
    for (int i = 0; i < 50; ++i) t_owner.strings.emplace_back(100 + i * 10, 'x');
  };
  size_t baseline = 0;
  for (int round = 0; round < 1000; ++round) {
    std::thread a(body, size_t(round) * 2), b(body, size_t(round) * 2 + 1);
    a.join();
    b.join();
    if (round == 9) baseline = hzt::rss_bytes();
  }
  size_t end = hzt::rss_bytes();
  pthread_key_delete(g_late_key);
  EXPECT_EQ(g_late_bad.load(), 0u);
  EXPECT_LT(end, baseline + (size_t(8) << 20))
      << "RSS " << (baseline >> 10) << " KiB -> " << (end >> 10) << " KiB";
}
