// The allocation profile (HAKOZUNA_PROFILE=FILE, `hakozuna profile`): per size
// class, allocations, frees, remote frees and the live bytes at the peak; per
// thread, its lifetime. Counted in the counting front's slow path
// (stats/front.cpp) and in the page-span paths, so without HAKOZUNA_PROFILE
// nothing here runs and the fast paths carry nothing for it. Written at exit
// to FILE.<pid>, a text file `hakozuna profile` reads.
#pragma once
#include <cstddef>

namespace hz::profile {

extern bool g_on;  // HAKOZUNA_PROFILE is set: fixed at process init
inline bool on() { return g_on; }

void init_from_env();
// A small block of class cls handed out / freed (remote: by a thread of
// another shard than its owner's). Counting fronts only.
void on_alloc(unsigned cls);
void on_free(unsigned cls, bool remote);
// A page span of bytes handed out / freed.
void on_large(size_t bytes, bool alloc);
// malloc_trim / hz_trim, and what it gave back.
void on_trim(size_t bytes);
// The calling thread's cache is torn down: its figures are folded in.
void on_thread_exit();
// Writes FILE.<pid> (nothing when HAKOZUNA_PROFILE is unset).
void write_at_exit();

}  // namespace hz::profile
