// The kernel boundary: address space, purging, machine facts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hz::os {

// Reserves size bytes of zeroed, lazily committed memory (MAP_NORESERVE), at
// hint if that range is free, elsewhere otherwise; inaccessible (PROT_NONE)
// until protect() opens it if !accessible. Returns nullptr on failure.
void* reserve(size_t size, void* hint = nullptr, bool accessible = true);
// The same, at an address aligned to align (a power of two).
void* reserve_aligned(size_t size, size_t align, void* hint, bool accessible = true);
// Reserves exactly [p, p+size) if nothing is mapped there (MAP_FIXED_NOREPLACE),
// to grow a reservation in place. False if the range is taken or refused.
bool reserve_at(void* p, size_t size, bool accessible = true);
// Unmaps [p, p+size); false if the kernel refused (at the mapping limit,
// an unmap that splits a mapping in two).
bool release(void* p, size_t size);
// Drops the pages' contents; they read back as zero and cost no RSS. Where
// the kernel refuses (locked pages) fresh pages are mapped over them, with
// no access unless `accessible` (a range that may hold the hardened build's
// closed spans); false then.
bool purge(void* p, size_t size, bool accessible = true);
// Makes [p, p+size) readable and writable, or inaccessible (hardened build:
// guard pages, freed spans), by mprotect, or by fresh pages mapped over it
// where a filter refuses mprotect: the range's contents are not kept. False
// if the kernel refused (too many mappings).
bool protect(void* p, size_t size, bool accessible);
// Asks for transparent huge pages on [p, p+size).
void advise_hugepages(void* p, size_t size);
// A coarse monotonic clock in milliseconds (wraps after 49 days; compare by
// subtraction).
uint32_t now_ms();
// Reads a /proc file into buf (NUL-terminated) with raw system calls: an
// interposed open() might allocate or lock, and libc's open() and read() are
// cancellation points, which malloc must not contain. Returns the length, 0
// on failure.
size_t read_proc(const char* path, char* buf, size_t cap);
// Threads in this process (from /proc/self/status), 0 when unknown.
unsigned thread_count();
// The main thread has exited (pthread_exit) while others run: a zombie.
bool main_thread_gone();
// Physical memory plus swap: a request above it can never be backed.
size_t backable_bytes();

// RLIMIT_AS: the soft limit and the bytes still mappable under it (both ~0
// when unlimited). Reads /proc/self/statm; never allocates.
struct AddressSpace {
  size_t limit, room;
};
constexpr size_t kUnlimited = ~size_t{0};
AddressSpace address_space();
// Just the soft RLIMIT_AS (kUnlimited when none): one syscall, no /proc read.
size_t address_space_limit();
// 64 random bits (arena placement); never fails, never blocks.
uint64_t random_u64();

}  // namespace hz::os
