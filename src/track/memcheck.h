// Valgrind memcheck support: client requests (valgrind's protocol, spoken
// here without its headers) that describe our blocks to memcheck, so a
// program run under `valgrind --tool=memcheck` gets leak reports and
// invalid-access reports for blocks from our heap, as mimalloc's track.h does.
//
// Memcheck is detected once, at process init. When it runs, every thread gets
// a counting front (stats/front.cpp): each malloc and free then takes a slow
// path, where the requests are made, so the fast paths carry no request and no
// test for one (a request is ~6 instructions even outside valgrind). Blocks
// are described with their usable size (their size class), as mimalloc does.
#pragma once
#include <cstddef>

namespace hz::track {

extern bool g_active;  // memcheck runs this process: set once, at init
inline bool active() { return g_active; }

// Probes for memcheck (one request that only memcheck answers); first call
// only.
void init();
// Any valgrind tool runs this process (RUNNING_ON_VALGRIND).
bool under_valgrind();
// A small block handed out: memcheck tracks it from now on, its bytes
// undefined except the word hakozuna cleared at hand-out (its free key, which
// free() reads), defined.
void on_alloc(void* p, size_t size);
// A small block freed: memcheck marks it freed and unaddressable, except the
// words hakozuna keeps in a free block (its list link, free key and batch
// header), which stay addressable and defined for the allocator. Call before
// the block is linked. (So a read after free of those first bytes goes
// unreported.)
void on_free(void* p, size_t size);
// A page span handed out (undefined unless zeroed) and freed (all of it
// unaddressable until the page heap reuses it).
void on_alloc_span(void* p, size_t size, bool zeroed);
void on_free_span(void* p);
// Pages the page heap hands out again (for a run, a page span, a thread cache):
// addressable and defined for the allocator, whatever blocks they held.
void on_span(void* p, size_t bytes);

}  // namespace hz::track
