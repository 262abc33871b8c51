// kvstore T OPS KEYS [GET_PCT SET_PCT]
//
// Key-value store workload (memcached/redis-like). A chained hash table of
// KEYS keys (64-bit), each node allocated with `new`, each value a malloc'ed
// block of variable size (60% 16-256 B, 30% 257 B-2 KiB, 10% 2-16 KiB),
// guarded by 1024 striped mutexes. T client threads each run OPS operations on
// keys drawn with a hot set (half the requests go to 10% of the keys):
//   GET_PCT (default 80)  get: look the key up, verify the value's stamp
//   SET_PCT (default 15)  set: allocate and fill a new value outside the lock,
//                         swap it in, free the old value outside the lock
//   rest                  delete the key if present (node + value freed),
//                         else insert it (node + value allocated)
// The table is filled before timing and emptied (and checked) after.
//
// ops counted = client operations.
#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

#include "bench_common.h"

using namespace hzb;

namespace {

constexpr size_t kStripes = 1024;

struct Node {
  Node* next;
  uint64_t key;
  void* val;
  uint32_t len;
};

struct alignas(64) Stripe {
  std::mutex mu;
};

struct Table {
  Node** buckets;  // rig memory
  uint64_t mask;
  Stripe* stripes;
  std::mutex& lock_for(uint64_t b) { return stripes[b & (kStripes - 1)].mu; }
};

size_t value_size(Rng& r) {
  uint64_t b = r.below(100);
  if (b < 60) return r.range(16, 256);
  if (b < 90) return r.range(257, 2048);
  return r.range(2049, 16384);
}

uint64_t bucket_of(const Table& t, uint64_t key) { return mix64(key) & t.mask; }

struct Counts {
  uint64_t gets = 0, hits = 0, sets = 0, dels = 0, ins = 0;
};

void client(Table& t, uint64_t ops, uint64_t keys, uint64_t get_pct, uint64_t set_pct, int id, StartGate& gate,
            Counts& out, double& end_sec) {
  Rng rng(0x77aa0000ULL + id);
  Counts c;
  const uint64_t hot = std::max<uint64_t>(1, keys / 10);
  gate.arrive_and_wait();
  for (uint64_t i = 0; i < ops; ++i) {
    uint64_t key = rng.percent(50) ? rng.below(hot) : rng.below(keys);
    uint64_t b = bucket_of(t, key);
    uint64_t act = rng.below(100);
    if (act < get_pct) {
      ++c.gets;
      std::lock_guard<std::mutex> g(t.lock_for(b));
      for (Node* n = t.buckets[b]; n; n = n->next)
        if (n->key == key) {
          verify(n->val, n->len);
          ++c.hits;
          break;
        }
    } else if (act < get_pct + set_pct) {
      ++c.sets;
      size_t len = value_size(rng);
      void* nv = alloc_stamped(len);
      void* old = nullptr;
      uint32_t old_len = 0;
      {
        std::lock_guard<std::mutex> g(t.lock_for(b));
        Node* n = t.buckets[b];
        while (n && n->key != key) n = n->next;
        if (n == nullptr) {
          n = new Node{t.buckets[b], key, nullptr, 0};
          t.buckets[b] = n;
        }
        old = n->val;
        old_len = n->len;
        n->val = nv;
        n->len = (uint32_t)len;
      }
      if (old) free_verified(old, old_len);
    } else {
      Node* gone = nullptr;
      {
        std::lock_guard<std::mutex> g(t.lock_for(b));
        Node** pp = &t.buckets[b];
        while (*pp && (*pp)->key != key) pp = &(*pp)->next;
        if (*pp) {
          gone = *pp;
          *pp = gone->next;
        } else {
          size_t len = value_size(rng);
          t.buckets[b] = new Node{t.buckets[b], key, alloc_stamped(len), (uint32_t)len};
          ++c.ins;
        }
      }
      if (gone) {
        free_verified(gone->val, gone->len);
        delete gone;
        ++c.dels;
      }
    }
  }
  end_sec = gate.seconds_since_open();
  out = c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s T OPS KEYS [GET_PCT SET_PCT]\n", argv[0]);
    return 1;
  }
  int threads = (int)arg_u64(argc, argv, 1, 1);
  uint64_t ops = arg_u64(argc, argv, 2, 0);
  uint64_t keys = arg_u64(argc, argv, 3, 1);
  uint64_t get_pct = arg_u64(argc, argv, 4, 80), set_pct = arg_u64(argc, argv, 5, 15);
  if (threads < 1 || keys < 1 || get_pct + set_pct > 100) die("bad arguments");

  Table t;
  t.mask = round_pow2(keys) - 1;
  t.buckets = rig_alloc<Node*>(t.mask + 1);
  t.stripes = rig_alloc<Stripe>(kStripes);
  for (size_t i = 0; i < kStripes; ++i) new (&t.stripes[i]) Stripe();
  Rng fill(42);
  for (uint64_t k = 0; k < keys; ++k) {
    size_t len = value_size(fill);
    uint64_t b = bucket_of(t, k);
    t.buckets[b] = new Node{t.buckets[b], k, alloc_stamped(len), (uint32_t)len};
  }

  std::vector<Counts> counts(threads);
  std::vector<double> end(threads, 0.0);
  StartGate gate(threads);
  std::vector<std::thread> th;
  for (int i = 0; i < threads; ++i)
    th.emplace_back(client, std::ref(t), ops, keys, get_pct, set_pct, i, std::ref(gate), std::ref(counts[i]),
                    std::ref(end[i]));
  gate.open();
  for (auto& x : th) x.join();
  double secs = *std::max_element(end.begin(), end.end());

  // Empty the table, checking every key is in its right bucket, present at most
  // once, and every value intact.
  auto* seen = rig_alloc<uint8_t>(keys);
  uint64_t live = 0;
  for (uint64_t b = 0; b <= t.mask; ++b)
    for (Node* n = t.buckets[b]; n;) {
      if (n->key >= keys || bucket_of(t, n->key) != b) die("node %p: key %" PRIu64 " corrupted", (void*)n, n->key);
      if (seen[n->key]++) die("key %" PRIu64 " is in the table twice", n->key);
      Node* next = n->next;
      free_verified(n->val, n->len);
      delete n;
      n = next;
      ++live;
    }
  Counts sum;
  for (auto& c : counts) {
    sum.gets += c.gets, sum.hits += c.hits, sum.sets += c.sets, sum.dels += c.dels, sum.ins += c.ins;
  }
  rig_free(seen, keys);
  char extra[160];
  std::snprintf(extra, sizeof extra, "threads=%d keys=%" PRIu64 " hit_rate=%.3f live=%" PRIu64, threads, keys,
                sum.gets ? double(sum.hits) / sum.gets : 0.0, live);
  print_result("kvstore", double(ops) * threads, secs, extra);
  std::printf("kvstore: %d clients x %" PRIu64 " ops over %" PRIu64 " keys: %.2f M ops/s\n", threads, ops, keys,
              double(ops) * threads / secs / 1e6);
  return 0;
}
