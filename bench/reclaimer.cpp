// reclaimer THREADS SECONDS LIVE SIZE
//
// Many producers, one reclaimer (issue 8 point 4): THREADS producers each
// keep LIVE blocks of SIZE bytes and replace random ones as fast as they can;
// the replaced blocks go, 256 at a time, through a mutex-protected queue (at
// most 65 536 blocks in flight: a producer waits while it is full) to one
// thread that only frees them. Every free is a remote free, all by one thread.
// Reports replacements/s, and the steady RSS: the highest RSS sampled after
// the first quarter of the run.
//
// Validation touches no more of a block than the allocator does: a producer
// stamps the first line of each new block (the line malloc just popped it
// from) and the reclaimer checks it before free() (which writes that line).
// Full stamps (head and tail lines) read or wrote two cold lines of every
// replaced block, about 260 ns per replacement whatever the allocator, and
// capped all of them near 4.5 M/s. Blocks that overlap are caught at the end:
// every live block (all producers' slots) is checked, sorted by address, for
// its stamp and for SIZE bytes of room before the next.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr size_t kBatch = 256;
constexpr size_t kMaxInFlight = 65536;
constexpr size_t kBuffers = kMaxInFlight / kBatch + 64;  // queue + one per producer

struct Queue {
  std::mutex mu;
  std::condition_variable not_full, not_empty;
  void*** buffers;  // free batch buffers (stack)
  size_t nbuf = 0;
  void*** full;     // batches waiting for the reclaimer (FIFO ring)
  size_t head = 0, tail = 0;
  size_t in_flight = 0;
  bool done = false;    // producers: stop waiting for room
  bool finish = false;  // reclaimer: no producer is left
};

void*** take_buffer(Queue& q) {
  std::unique_lock<std::mutex> l(q.mu);
  q.not_full.wait(l, [&] { return q.nbuf > 0; });
  return reinterpret_cast<void***>(q.buffers[--q.nbuf]);
}

void* alloc_head_stamped(size_t size) {
  void* p = std::malloc(size);
  check_ptr(p, size);
  stamp_head(p, size);
  return p;
}

void free_head_verified(void* p, size_t size) {
  verify_head(p);
  uint64_t n;
  std::memcpy(&n, p, 8);
  if (n != size) die("block %p: size word %" PRIu64 " != %zu (corrupted)", p, n, size);
  std::free(p);
}

// slots: this producer's LIVE blocks, left live for main's overlap check.
void producer(Queue& q, int id, void** slots, size_t live, size_t size, StartGate& gate,
              std::atomic<bool>& stop, std::atomic<uint64_t>& total) {
  Rng rng(0x7ec1a100ULL + id);
  for (size_t i = 0; i < live; ++i) slots[i] = alloc_head_stamped(size);
  void** batch = reinterpret_cast<void**>(take_buffer(q));
  size_t n = 0;
  uint64_t done = 0;
  gate.arrive_and_wait();
  while (!stop.load(std::memory_order_relaxed)) {
    size_t i = rng.below(live);
    batch[n++] = slots[i];
    slots[i] = alloc_head_stamped(size);
    ++done;
    if (n == kBatch) {
      std::unique_lock<std::mutex> l(q.mu);
      q.not_full.wait(l, [&] { return q.in_flight + kBatch <= kMaxInFlight || q.done; });
      q.full[q.tail++ % kBuffers] = reinterpret_cast<void**>(batch);
      q.in_flight += kBatch;
      q.not_empty.notify_one();
      l.unlock();
      batch = reinterpret_cast<void**>(take_buffer(q));
      n = 0;
    }
  }
  for (size_t k = 0; k < n; ++k) free_head_verified(batch[k], size);
  total.fetch_add(done);
}

// All live blocks at the end: stamped, and no two closer than size bytes.
void check_live(void** all, size_t count, size_t size) {
  std::sort(all, all + count);
  for (size_t i = 0; i < count; ++i) {
    verify_head(all[i]);
    if (i + 1 < count && static_cast<char*>(all[i + 1]) - static_cast<char*>(all[i]) < (ptrdiff_t)size)
      die("live blocks %p and %p overlap (size %zu)", all[i], all[i + 1], size);
  }
}

void reclaimer(Queue& q, size_t size) {
  for (;;) {
    void** batch;
    {
      std::unique_lock<std::mutex> l(q.mu);
      q.not_empty.wait(l, [&] { return q.head != q.tail || q.finish; });
      if (q.head == q.tail) return;
      batch = q.full[q.head++ % kBuffers];
    }
    for (size_t k = 0; k < kBatch; ++k) free_head_verified(batch[k], size);
    std::lock_guard<std::mutex> l(q.mu);
    q.in_flight -= kBatch;
    q.buffers[q.nbuf++] = reinterpret_cast<void**>(batch);
    // Room for one batch: one producer. Waking all 16 each time (as this
    // program first did) put a quarter of the run in the scheduler, whenever
    // the producers outran the reclaimer (a thundering herd, not allocator work).
    // take_buffer() never waits: there are more buffers than can be in use.
    q.not_full.notify_one();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s THREADS SECONDS LIVE SIZE\n", argv[0]);
    return 1;
  }
  int threads = (int)arg_u64(argc, argv, 1, 16);
  double seconds = arg_f64(argc, argv, 2, 2.0);
  size_t live = arg_u64(argc, argv, 3, 20000);
  size_t size = arg_u64(argc, argv, 4, 592);
  if (threads < 1 || live < 1 || size < 16 || seconds <= 0) die("bad arguments");
  if (threads > 63) die("at most 63 producers: take_buffer() must never wait");

  Queue q;
  q.buffers = rig_alloc<void**>(kBuffers);
  q.full = rig_alloc<void**>(kBuffers);
  for (size_t i = 0; i < kBuffers; ++i) q.buffers[q.nbuf++] = rig_alloc<void*>(kBatch);
  StartGate gate(threads);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  void** all = rig_alloc<void*>(threads * live);
  std::vector<std::thread> th;
  std::thread rec(reclaimer, std::ref(q), size);
  for (int i = 0; i < threads; ++i)
    th.emplace_back(producer, std::ref(q), i, all + i * live, live, size, std::ref(gate), std::ref(stop),
                    std::ref(total));
  auto t0 = gate.open();
  long steady = 0;
  while (seconds_since(t0) < seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (seconds_since(t0) > seconds / 4) steady = std::max(steady, rss_kib());
  }
  stop.store(true);
  {
    std::lock_guard<std::mutex> l(q.mu);
    q.done = true;  // producers blocked on a full queue finish their batch locally
  }
  q.not_full.notify_all();
  for (auto& t : th) t.join();
  double secs = seconds_since(t0);
  {
    std::lock_guard<std::mutex> l(q.mu);
    q.finish = true;
  }
  q.not_empty.notify_all();
  rec.join();
  if (q.in_flight != 0) die("%zu blocks never reached the reclaimer", q.in_flight);
  check_live(all, threads * live, size);
  for (size_t i = 0; i < threads * live; ++i) std::free(all[i]);
  rig_free(all, threads * live);
  char extra[96];
  std::snprintf(extra, sizeof extra, "steady_rss_kib=%ld threads=%d", steady, threads);
  print_result("reclaimer", double(total.load()), secs, extra);
  std::printf("reclaimer: %d producers x %zu live blocks of %zu B: %.2f M replacements/s, steady RSS %.0f MiB\n",
              threads, live, size, total.load() / secs / 1e6, steady / 1024.0);
  return 0;
}
