// An MPSC stack of whole lists (S142's standard form). Producers link a list
// and publish it with one CAS (release); the consumer takes everything with
// one atomic_exchange (acquire). There is no single-node pop, so no ABA.
// "Pending" is simply head != nullptr.
#pragma once
#include <atomic>

#include "arena/arena.h"

namespace hz {

class MpscList {
 public:
  // Publishes first..last (already linked through next). Returns true when the
  // list was empty before (the empty -> non-empty transition).
  bool push(FreeBlock* first, FreeBlock* last) {
    FreeBlock* old = head_.load(std::memory_order_relaxed);
    do {
      last->next = old;
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

}  // namespace hz
