// The list of lists behind every owner stash and central bin (S142).
//
// MpscList: producers link a list and publish it with one CAS (release); the
// consumer takes everything with one atomic_exchange (acquire). There is no
// single-node pop, so no ABA. "Pending" is simply head != nullptr.
// LockedList: the same interface behind a mutex, kept for the S142 A/B.
#pragma once
#include <pthread.h>

#include <atomic>
#include <type_traits>

#include "arena/arena.h"

namespace hz {

class MpscList {
 public:
  // Publishes first..last, a chain of batches (each with its header, see
  // FreeBlock) linked through next. Returns true when the list was empty
  // before (the empty -> non-empty transition).
  bool push(FreeBlock* first, FreeBlock* last) {
    FreeBlock* old = head_.load(std::memory_order_relaxed);
    do {
      last->set_next(old);
    } while (!head_.compare_exchange_weak(old, first, std::memory_order_release, std::memory_order_relaxed));
    return old == nullptr;
  }
  FreeBlock* drain() {
    if (head_.load(std::memory_order_relaxed) == nullptr) return nullptr;  // skip the RMW when idle
    return head_.exchange(nullptr, std::memory_order_acquire);
  }
  bool pending() const { return head_.load(std::memory_order_relaxed) != nullptr; }

 private:
  std::atomic<FreeBlock*> head_{nullptr};
};

class LockedList {
 public:
  bool push(FreeBlock* first, FreeBlock* last) {
    pthread_mutex_lock(&mu_);
    FreeBlock* old = head_.load(std::memory_order_relaxed);
    last->set_next(old);
    head_.store(first, std::memory_order_relaxed);
    pthread_mutex_unlock(&mu_);
    return old == nullptr;
  }
  FreeBlock* drain() {
    if (head_.load(std::memory_order_relaxed) == nullptr) return nullptr;
    pthread_mutex_lock(&mu_);
    FreeBlock* h = head_.load(std::memory_order_relaxed);
    head_.store(nullptr, std::memory_order_relaxed);
    pthread_mutex_unlock(&mu_);
    return h;
  }
  bool pending() const { return head_.load(std::memory_order_relaxed) != nullptr; }

 private:
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<FreeBlock*> head_{nullptr};
};

using BlockLists = std::conditional_t<kLockFreeLists, MpscList, LockedList>;

// Publishes n blocks first..last of class cls as one batch.
inline void push_batch(BlockLists& list, FreeBlock* first, FreeBlock* last, uint32_t n, unsigned cls) {
  set_batch(first, last, n, cls);
  list.push(first, last);
}

}  // namespace hz
