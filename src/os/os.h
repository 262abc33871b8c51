// The kernel boundary: address space, purging, machine facts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hz::os {

// Reserves size bytes of zeroed, lazily committed memory (MAP_NORESERVE).
// Returns nullptr on failure.
void* reserve(size_t size);
void release(void* p, size_t size);
// Drops the pages' contents; they read back as zero and cost no RSS.
void purge(void* p, size_t size);
// Asks for transparent huge pages on [p, p+size).
void advise_hugepages(void* p, size_t size);
// A coarse monotonic clock in milliseconds (wraps after 49 days; compare by
// subtraction).
uint32_t now_ms();
// Physical memory plus swap: a request above it can never be backed.
size_t backable_bytes();

}  // namespace hz::os
