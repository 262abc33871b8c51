// xmalloc_test W BATCHES [SIZE]
//
// The shape of Lever & Boreham's xmalloc-test as mimalloc-bench runs it
// (`xmalloc-test -w W -t 5 -s 64`), written from its description: W producer
// threads and W consumer threads. A producer mallocs a batch record (a
// ~32 KiB array of 4096 pointers) and 4096 blocks of SIZE bytes (default 64),
// writes the first 128 bytes of each, and pushes the batch onto one shared
// stack guarded by a mutex (at most 100 batches waiting: a producer that finds
// it full sleeps on a condition variable, as does a consumer that finds it
// empty). Any consumer pops any batch and frees its blocks and the record. So
// every block is freed by a thread that did not allocate it, by whichever
// consumer comes first, in batches of 4096. The original runs for a fixed
// time; this one until each producer has made BATCHES batches.
// (bench/xmalloc.cpp is the suite's older, paired variant: one SPSC ring per
// producer/consumer pair, block by block.)
//
// Validation: blocks are stamped (bench_common.h) and verified before the
// free; a batch record carries its size and tag in its first two words,
// checked by the consumer.
//
// ops counted = malloc calls + free calls (blocks and batch records).
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr int kPerBatch = 4096;
constexpr int kMaxWaiting = 100;

struct Batch {
  uint64_t size;  // stamp: sizeof(Batch)
  uint64_t tag;   // stamp: tag_of(this, size)
  Batch* next;
  uint64_t pad;
  void* obj[kPerBatch];
};

struct Queue {
  std::mutex mu;
  std::condition_variable not_empty, not_full;
  Batch* top = nullptr;
  int waiting = 0;
  uint64_t taken = 0, total = 0;

  void push(Batch* b) {
    std::unique_lock<std::mutex> lk(mu);
    not_full.wait(lk, [&] { return waiting < kMaxWaiting; });
    b->next = top;
    top = b;
    ++waiting;
    not_empty.notify_one();
  }
  // nullptr once every batch has been taken
  Batch* pop() {
    std::unique_lock<std::mutex> lk(mu);
    not_empty.wait(lk, [&] { return top != nullptr || taken == total; });
    if (top == nullptr) return nullptr;
    Batch* b = top;
    top = b->next;
    --waiting;
    if (++taken == total) not_empty.notify_all();
    not_full.notify_one();
    return b;
  }
};

void producer(Queue& q, uint64_t batches, size_t size, StartGate& gate) {
  gate.arrive_and_wait();
  for (uint64_t k = 0; k < batches; ++k) {
    auto* b = static_cast<Batch*>(std::malloc(sizeof(Batch)));
    check_ptr(b, sizeof(Batch));
    b->size = sizeof(Batch);
    b->tag = tag_of(b, sizeof(Batch));
    for (int i = 0; i < kPerBatch; ++i) {
      void* p = std::malloc(size);
      check_ptr(p, size);
      std::memset(p, i & 255, std::min<size_t>(size, 128));
      stamp(p, size);
      b->obj[i] = p;
    }
    q.push(b);
  }
}

uint64_t consumer(Queue& q, size_t size, StartGate& gate) {
  gate.arrive_and_wait();
  uint64_t ops = 0;
  while (Batch* b = q.pop()) {
    verify_head(b);
    if (b->size != sizeof(Batch)) die("batch %p: size word corrupted", (void*)b);
    for (int i = 0; i < kPerBatch; ++i) free_verified(b->obj[i], size);
    verify_head(b);
    std::free(b);
    ops += 2 * (kPerBatch + 1);
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s W BATCHES [SIZE]\n", argv[0]);
    return 1;
  }
  const int workers = (int)arg_u64(argc, argv, 1, 2);
  const uint64_t batches = arg_u64(argc, argv, 2, 100);
  const size_t size = arg_u64(argc, argv, 3, 64);
  if (workers < 1 || workers > 512 || size < 16 || size > (1u << 24)) die("bad arguments (W >= 1, SIZE >= 16)");

  Queue q;
  q.total = batches * workers;
  std::vector<uint64_t> ops(workers, 0);
  StartGate gate(2 * workers);
  std::vector<std::thread> th;
  for (int i = 0; i < workers; ++i) {
    th.emplace_back([&, i] { ops[i] = consumer(q, size, gate); });
    th.emplace_back([&] { producer(q, batches, size, gate); });
  }
  auto t0 = gate.open();
  for (auto& t : th) t.join();
  double secs = seconds_since(t0);
  double total = 0;
  for (uint64_t o : ops) total += double(o);
  if (total != 2.0 * double(q.total) * (kPerBatch + 1)) die("lost batches: %.0f ops counted", total);

  char extra[64];
  std::snprintf(extra, sizeof extra, "workers=%d size=%zu", workers, size);
  print_result("xmalloc_test", total, secs, extra);
  std::printf("xmalloc_test: %d producers -> %d consumers, %" PRIu64 " batches of 4096 x %zu B each: %.2f M ops/s\n",
              workers, workers, batches, size, total / secs / 1e6);
  return 0;
}
