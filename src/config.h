// The one config header: every box switch and tunable, per lane.
// Each HZ_* macro may be overridden from CMake (-DHAKOZUNA_DEFINES="HZ_X=0")
// for A/B builds; the constexpr below is what the code reads.
#pragma once
#include <cstddef>
#include <cstdint>

#ifndef HZ_LANE
#define HZ_LANE 1
#endif
#ifndef HZ_STATS
#define HZ_STATS 0
#endif
#ifndef HZ_OVERRIDE
#define HZ_OVERRIDE 1
#endif
// Thread-local storage: initial-exec, one load from the thread pointer. A
// library that a process dlopen()s without having preloaded it (plugins,
// language runtimes) needs the global-dynamic model (CMake
// -DHAKOZUNA_TLS=dynamic): glibc keeps little static TLS spare at dlopen time
// and refuses an initial-exec library that does not fit in it.
#ifndef HZ_TLS_DYNAMIC
#define HZ_TLS_DYNAMIC 0
#endif
#if HZ_TLS_DYNAMIC
#define HZ_TLS __thread __attribute__((tls_model("global-dynamic")))
#else
#define HZ_TLS __thread __attribute__((tls_model("initial-exec")))
#endif

namespace hz {

enum class Lane : int { Fast = 0, Scale = 1, P32 = 2 };
inline constexpr Lane kLane = static_cast<Lane>(HZ_LANE);
static_assert(HZ_LANE >= 0 && HZ_LANE <= 2, "HZ_LANE must be 0 (fast), 1 (scale) or 2 (p32)");

inline constexpr bool kStats = HZ_STATS != 0;  // count even without HAKOZUNA_STATS=1
inline constexpr bool kOverride = HZ_OVERRIDE != 0;
#ifdef NDEBUG
inline constexpr bool kDebugChecks = false;
#else
inline constexpr bool kDebugChecks = true;
#endif

// ---- geometry ----
inline constexpr unsigned kPageShift = 12;
inline constexpr size_t kPageSize = size_t{1} << kPageShift;
// Address space reserved up front (MAP_NORESERVE: costs no memory until used),
// and the most the arena may use unless HAKOZUNA_ARENA_SIZE says otherwise.
// Under RLIMIT_AS only a part of the room left is reserved at first; the
// reservation is halved on failure (valgrind, strict overcommit, a tight
// RLIMIT_AS) down to kArenaReserveMin, and grows in place later when more is
// needed. (It was 16 MiB: under `ulimit -v 16000` every malloc failed, and
// python3 needed 28 MB of limit where glibc needs 12.)
inline constexpr size_t kArenaReserveDefault = size_t{256} << 30;
inline constexpr size_t kArenaReserveMin = size_t{2} << 20;
// The arena's regions are placed at a random spot in [low, high) (x86-64 user
// space: below PIE executables, far above brk and non-PIE executables, far
// below where the kernel maps top-down) so nothing else lands where they grow.
inline constexpr uintptr_t kArenaHintLow = uintptr_t{32} << 40;
inline constexpr uintptr_t kArenaHintHigh = uintptr_t{80} << 40;
// The arena hands out fresh address space in chunks of this many pages.
inline constexpr size_t kArenaGrowPages = (size_t{2} << 20) >> kPageShift;
// Arena holes (issue 8, point 2): when the top cannot grow (the arena's
// limit, or RLIMIT_AS for its reservation), holes whose neighbours are free
// again are mapped back, else free spans too small for the request are
// unmapped and stop counting against the limit, so free memory in pieces
// still serves a request none of them fits. Off: ENOMEM.
#ifndef HZ_ARENA_HOLES
#define HZ_ARENA_HOLES 1
#endif
inline constexpr bool kArenaHoles = HZ_ARENA_HOLES != 0;

// ---- shards (owners) ----
#ifndef HZ_SHARDS
#define HZ_SHARDS (HZ_LANE == 0 ? 8 : HZ_LANE == 1 ? 32 : 255)
#endif
inline constexpr unsigned kShards = HZ_SHARDS;
static_assert(kShards >= 1 && kShards <= 255, "the owner field of a page tag is 8 bits");

// ---- thread cache ----
// Largest size served by size classes and thread caches; above it, page spans.
inline constexpr size_t kMaxSmallSize = size_t{256} << 10;
// Page spans at least this large are returned to the OS as soon as they are
// freed; smaller ones wait for the decay (a 1 MiB malloc/free loop must not
// pay a madvise and the page faults after it every time).
inline constexpr size_t kPurgeOnFreeBytes = size_t{4} << 20;
// Free memory idle this long is returned to the OS (HAKOZUNA_PURGE_DELAY_MS
// overrides it at run time; HZ_PURGE_DELAY_MS at build time, for A/B).
#ifndef HZ_PURGE_DELAY_MS
#define HZ_PURGE_DELAY_MS 500
#endif
inline constexpr uint32_t kPurgeDelayMsDefault = HZ_PURGE_DELAY_MS;

}  // namespace hz

// ---- boxes (see docs/boxes.md) ----
namespace hz {

// Remote stash (S112 prerequisite): group remote frees by (owner, class) in the
// thread and publish whole lists. Off: each remote free is one CAS push.
#ifndef HZ_REMOTE_STASH
#define HZ_REMOTE_STASH 1
#endif
inline constexpr bool kRemoteStash = HZ_REMOTE_STASH != 0;
inline constexpr unsigned kRemoteSlots = 256;         // direct-mapped groups (power of two)
#ifndef HZ_REMOTE_GROUP
#define HZ_REMOTE_GROUP 64
#endif
inline constexpr unsigned kRemoteFlushThreshold = HZ_REMOTE_GROUP; // blocks per group before publishing
inline constexpr size_t kRemoteGroupMaxBytes = 64 << 10;  // ... or this many bytes
inline constexpr size_t kRemoteStashMaxBytes = 1 << 20;   // all groups: publish everything

// Hand-offs (issue 13): a thread that frees a block owned by another shard
// keeps it in its own bin while the bin has room, and reuses it, hot in its
// cache, for its own mallocs (tcmalloc's edge); only a full bin sends it home.
// Only classes of whole cache lines (kCacheLine): a smaller block shares its
// line with other threads' blocks (passive false sharing). The bin's limits
// bound what is kept; reclaim sends foreign blocks home from any list. Off:
// every remote free goes to the remote stash.
#ifndef HZ_REMOTE_KEEP
#define HZ_REMOTE_KEEP 1
#endif
inline constexpr bool kRemoteKeep = HZ_REMOTE_KEEP != 0;
inline constexpr size_t kCacheLine = 64;

// S112 full-drain exchange with TLS spill: drained remainders are kept in the
// thread's spill array, then in the shard (Shard::drained), instead of being
// pushed back.
// Off: the pre-S112 bounded drain, which takes a batch and pushes the rest
// back (finding its tail by hopping batch headers).
#ifndef HZ_S112_FULL_DRAIN
#define HZ_S112_FULL_DRAIN 1
#endif
inline constexpr bool kFullDrain = HZ_S112_FULL_DRAIN != 0;
#ifndef HZ_SPILL_CAP
#define HZ_SPILL_CAP 32
#endif
inline constexpr unsigned kSpillCap = HZ_SPILL_CAP;
// ... and at most this many bytes per class: what a thread keeps where no
// other thread can reach it is bounded in bytes (the rest of a drain stays in
// the shard, reachable by reclaim and the exhaustion sequence).
#ifndef HZ_SPILL_MAX_BYTES
#define HZ_SPILL_MAX_BYTES (64 << 10)
#endif
inline constexpr size_t kSpillMaxBytes = HZ_SPILL_MAX_BYTES;
// A thread-cache bin holds at most this many bytes (and at most 4 refills'
// worth of blocks): bounds what an idle thread keeps out of everyone's reach.
#ifndef HZ_BIN_MAX_BYTES
#define HZ_BIN_MAX_BYTES (256 << 10)
#endif
inline constexpr size_t kBinMaxBytes = HZ_BIN_MAX_BYTES;
// ... and small classes at least this many bytes (4 refills of 64 blocks are
// only 4 KiB of 16 B blocks): a burst of a few thousand small blocks freed
// stays in the bin instead of going through central and back. 0: off.
#ifndef HZ_BIN_MIN_BYTES
#define HZ_BIN_MIN_BYTES (64 << 10)
#endif
inline constexpr size_t kBinMinBytes = HZ_BIN_MIN_BYTES;
// Slow start: a new thread's bins begin at this limit and double at each
// refill or overflow up to their class's limit (first refills take a quarter
// of it), so short-lived threads and processes touch few pages.
#ifndef HZ_SLOW_START_MAX
#define HZ_SLOW_START_MAX 8
#endif
inline constexpr uint32_t kSlowStartMax = HZ_SLOW_START_MAX;
// ... and while it grows, a refill carves at most this many bytes of blocks
// (one block at least): carving writes a link into each block, so a new
// thread's first refill of a 4-8 KiB class faulted in four pages for the one
// block it wanted (400 threads, one block of each of 48 classes: 124 MB
// resident, 111 with the cap). 0: off.
#ifndef HZ_SLOW_START_BYTES
#define HZ_SLOW_START_BYTES 4096
#endif
inline constexpr uint32_t kSlowStartBytes = HZ_SLOW_START_BYTES;
// Before carving a new run, borrow a batch of free blocks another shard holds
// (they keep their owner). Off: each owner grows on its own, and free blocks
// that pile up in idle owners' lists are reused only by those owners.
#ifndef HZ_BORROW_BEFORE_GROW
#define HZ_BORROW_BEFORE_GROW 1
#endif
inline constexpr bool kBorrowBeforeGrow = HZ_BORROW_BEFORE_GROW != 0;
// ... once the thread itself has carved this much: short-lived and balanced
// threads keep to their own blocks (a borrowed block's every free is remote).
#ifndef HZ_BORROW_AFTER_BYTES
#define HZ_BORROW_AFTER_BYTES (8 << 20)
#endif
inline constexpr size_t kBorrowAfterBytes = HZ_BORROW_AFTER_BYTES;
// Grow reclaim (issue 13, footprint): a shard that has carved this many bytes
// of new runs since its last reclaim is reclaimed before it carves again, so
// that runs emptied in its other classes' lists go back to the page heap and
// are carved again instead of fresh pages. The decay reclaims only shards
// that were quiet for a whole tick, which a busy thread never is: a
// single-threaded program that frees one size and then grows another (sqlite)
// kept every emptied run. Each reclaim sorts only what was freed since the
// last one. 0: off.
#ifndef HZ_GROW_RECLAIM_BYTES
#define HZ_GROW_RECLAIM_BYTES (4 << 20)
#endif
inline constexpr size_t kGrowReclaimBytes = HZ_GROW_RECLAIM_BYTES;
// ... and in a small heap, an eighth of its mapped peak, down to this: a
// short program's classes peak one after another, and its RSS was the sum
// of their peaks (GNU ld's link step: 4 KiB blocks freed, then other sizes
// grown on fresh pages). 0: HZ_GROW_RECLAIM_BYTES at any size.
#ifndef HZ_GROW_RECLAIM_MIN_BYTES
#define HZ_GROW_RECLAIM_MIN_BYTES (1 << 20)
#endif
inline constexpr size_t kGrowReclaimMinBytes = HZ_GROW_RECLAIM_MIN_BYTES;
static_assert(kGrowReclaimMinBytes <= kGrowReclaimBytes, "HZ_GROW_RECLAIM_MIN_BYTES: at most HZ_GROW_RECLAIM_BYTES");

// S142 lock-free owner stash and central lists (MPSC stacks of lists with
// exchange drain). Off: the same lists behind a mutex each.
#ifndef HZ_S142_LOCKFREE
#define HZ_S142_LOCKFREE 1
#endif
inline constexpr bool kLockFreeLists = HZ_S142_LOCKFREE != 0;

// OwnerExcl: consumers of a shard's MPSC lists and its run metadata are
// serialised per shard. Required whenever two threads can share a shard.
#ifndef HZ_OWNER_EXCL
#define HZ_OWNER_EXCL 1
#endif
inline constexpr bool kOwnerExcl = HZ_OWNER_EXCL != 0;
// Threads may outnumber shards (always true for a general-purpose malloc).
#ifndef HZ_ALLOW_COLLISIONS
#define HZ_ALLOW_COLLISIONS 1
#endif
inline constexpr bool kAllowCollisions = HZ_ALLOW_COLLISIONS != 0;
// Free key (issue 11): a small block on any free list carries free_key(p) in
// its second word and every hand-out clears it, so free() of a block that is
// already free is caught by one load and compare (check/free_key.h). Batch
// headers then move to the third word; the 16-byte class, which has none,
// moves between threads one block per batch.
#ifndef HZ_FREE_KEY
#define HZ_FREE_KEY 1
#endif
inline constexpr bool kFreeKey = HZ_FREE_KEY != 0;
// ... with the block's address xor'd into the key (issue 11's first form): a
// word copied out of a free block into another is then not that one's key.
// Off (issue 13): the class's 64-bit key alone, an instruction less on each
// fast path; the checks it makes are the same.
#ifndef HZ_KEY_ADDRESS
#define HZ_KEY_ADDRESS 0
#endif
inline constexpr bool kKeyAddress = HZ_KEY_ADDRESS != 0;
// malloc's size -> bin table indexed by the size itself (issue 13): 1025
// pointers (8 KiB) per thread, no add and shift on the fast path. Off: by
// (size + 15) / 16, 65 pointers.
#ifndef HZ_SIZE_TABLE_BYTES
#define HZ_SIZE_TABLE_BYTES 1
#endif
inline constexpr size_t kSizeTableStep = HZ_SIZE_TABLE_BYTES ? 1 : 16;
// A fifth size class in each power of two from 1 KiB, just above it
// (1152, 2304, 4608, ...: 2^k + 2^k/8), for buffers of a power of two plus a
// header. Off: 4 classes per power of two only.
#ifndef HZ_NEAR_POW2_CLASSES
#define HZ_NEAR_POW2_CLASSES 1
#endif
inline constexpr bool kNearPow2Classes = HZ_NEAR_POW2_CLASSES;
// ... and three finer ones under them (issue 13, point 6): 1040 and 4160
// (1 and 4 KiB plus a malloc size prefix, sqlite's 1032 and 4104) and 4416
// (4 KiB plus up to 5/64: sqlite's 4368-byte page-cache entries), which
// fill the class ids the 2 KiB bin stride has left (63). The medium size
// table then steps by 16 bytes (16 KiB of shared table), and runs are sized
// for a tail waste of 1/64, not 1/16 (4416 in 16 pages wasted 5.7%).
// Off: the near-power classes alone.
#ifndef HZ_FINE_NEAR_CLASSES
#define HZ_FINE_NEAR_CLASSES 1
#endif
inline constexpr bool kFineNearClasses = HZ_FINE_NEAR_CLASSES != 0;
static_assert(!kFineNearClasses || kNearPow2Classes, "HZ_FINE_NEAR_CLASSES adds to the near-power classes");
// Hardened build (-DHAKOZUNA_HARDENED=ON, check/hardened.h): a per-process
// secret in the free key, a canary after every block, freed blocks zeroed and
// checked on reuse, a quarantine that delays and randomises reuse, shuffled
// runs, guard pages after page spans and freed spans made inaccessible.
#ifndef HZ_HARDENED
#define HZ_HARDENED 0
#endif
inline constexpr bool kHardened = HZ_HARDENED != 0;
inline constexpr size_t kCanaryBytes = 8;
// Freed blocks up to this size are zeroed whole; larger ones at their first
// and last 64 bytes, what the reuse check reads (zeroing a 32 KiB block at
// every free costs the medium-size benchmarks 10x).
inline constexpr size_t kHardenedZeroMax = 4096;
inline constexpr unsigned kQuarantineSlots = 16;               // per thread
inline constexpr size_t kQuarantineMaxBytes = size_t{256} << 10;  // per thread
static_assert(!kHardened || kFreeKey, "the hardened build's checks rest on the free key");

// S45 exhaustion sequence: flush, reclaim, steal before failing with ENOMEM.
#ifndef HZ_EXHAUSTION_RECLAIM
#define HZ_EXHAUSTION_RECLAIM 1
#endif
inline constexpr bool kExhaustionReclaim = HZ_EXHAUSTION_RECLAIM != 0;

// HZ4 Stage5 page-level remote lane ("remote-lite", lane r90): a remote free
// goes onto its run's own list; only the push that finds that list empty
// queues the run for its owner (remote/run_remote.h). Off: the remote stash.
#ifndef HZ_REMOTE_LITE
#define HZ_REMOTE_LITE 0
#endif
inline constexpr bool kRemoteLite = HZ_REMOTE_LITE != 0;
// Run metadata (RunMeta) lives in an array of its own, apart from the run's
// pages (arena/arena.h): producers write a run's list head there while the
// owner hands out its blocks. A layout fact, named so that the lane can
// require it (as the seed's HZ4_PAGE_META_SEPARATE).
#ifndef HZ_RUN_META_SEPARATE
#define HZ_RUN_META_SEPARATE 1
#endif
inline constexpr bool kRunMetaSeparate = HZ_RUN_META_SEPARATE != 0;

static_assert(!kLockFreeLists || kOwnerExcl || !kAllowCollisions,
              "two consumers could drain one MPSC list: enable HZ_OWNER_EXCL or forbid collisions");
static_assert(!kRemoteLite || kRunMetaSeparate,
              "HZ_REMOTE_LITE keeps each run's remote list in run metadata apart from its data: needs HZ_RUN_META_SEPARATE");
static_assert(!kRemoteLite || kOwnerExcl || !kAllowCollisions,
              "two consumers could drain one run queue: HZ_REMOTE_LITE needs HZ_OWNER_EXCL or no collisions");

}  // namespace hz

// ---- large keep (docs/boxes.md "Large keep", arena/keep.h) ----
namespace hz {
// Freed page spans stay dirty in the page heap for reuse (no purge and page
// faults per replaced buffer), within a bound, until the decay returns them.
// Off: spans of kPurgeOnFreeBytes or more are purged at free. Not in the
// hardened build, which purges and closes every freed span.
#ifndef HZ_LARGE_KEEP
#define HZ_LARGE_KEEP 1
#endif
inline constexpr bool kLargeKeep = HZ_LARGE_KEEP != 0 && !kHardened;
// The bound on the dirty pages of free spans over 1 MiB: at most this many
// bytes and 1/HZ_LARGE_KEEP_SHARE of the peak mapped (128 MiB or 1/4 made
// the large-buffer shape fault 5-7x more pages), but at least
// HZ_LARGE_KEEP_MIN_BYTES in all while a purger runs (4 MiB without one):
// one buffer of 3-6 MiB replaced, the old freed after the new is made,
// faulted 15-40x mimalloc 3's pages under a bound of half its peak. A span
// over the bound without the floor is not kept by it (docs/boxes.md "The
// bound's floor").
#ifndef HZ_LARGE_KEEP_MAX_BYTES
#define HZ_LARGE_KEEP_MAX_BYTES (size_t{256} << 20)
#endif
inline constexpr size_t kLargeKeepMaxBytes = HZ_LARGE_KEEP_MAX_BYTES;
#ifndef HZ_LARGE_KEEP_MIN_BYTES
#define HZ_LARGE_KEEP_MIN_BYTES (size_t{16} << 20)
#endif
inline constexpr size_t kLargeKeepMinBytes = HZ_LARGE_KEEP_MIN_BYTES;
static_assert(kLargeKeepMinBytes >= kPurgeOnFreeBytes && kLargeKeepMinBytes <= kLargeKeepMaxBytes,
              "HZ_LARGE_KEEP_MIN_BYTES: between kPurgeOnFreeBytes (kept before the box) and the most kept");
// A single-threaded process starts the purger (which alone returns kept
// pages while the program idles) once this much of freed large spans is kept
// dirty; less waits for the program's next allocator calls. The first thread
// makes glibc's stdio take locks and libstdc++'s shared_ptr count atomically
// for the rest of the process: after one 8 MiB block freed, 100 M putc took
// 1.15 s against 0.15 (docs/boxes.md "Large keep: the purger's threshold").
// A multi-threaded process has the purger anyway.
#ifndef HZ_LARGE_KEEP_PURGER_BYTES
#define HZ_LARGE_KEEP_PURGER_BYTES (size_t{32} << 20)
#endif
inline constexpr size_t kLargeKeepPurgerBytes = HZ_LARGE_KEEP_PURGER_BYTES;
#ifndef HZ_LARGE_KEEP_SHARE
#define HZ_LARGE_KEEP_SHARE 2
#endif
inline constexpr size_t kLargeKeepShare = HZ_LARGE_KEEP_SHARE;
static_assert(kLargeKeepShare >= 1, "HZ_LARGE_KEEP_SHARE divides the peak");
// The spare: the last freed span over the bound (up to kLargeKeepMaxBytes)
// stays dirty, outside the bound, until a span is placed elsewhere or a
// purger tick passes unused: a program whose peak is one large buffer,
// replaced, faulted every page of every copy (2.94 M faults against glibc's
// 13 k).
#ifndef HZ_LARGE_KEEP_SPARE
#define HZ_LARGE_KEEP_SPARE 1
#endif
inline constexpr bool kLargeKeepSpare = HZ_LARGE_KEEP_SPARE != 0 && kLargeKeep;
// Pages kept under the floor never raise the peak: while the floor, not the
// share of the peak, is what lets them be kept (a peak under twice
// HZ_LARGE_KEEP_MIN_BYTES), a span over 1 MiB placed (or grown) past the
// mapped peak has the kept pages of other free spans that would make up the
// difference purged, oldest first. ld freed a 3.5 MB buffer (kept) and made
// one of 5 MB that it could not serve: its peak rose by both (glibc's by the
// second alone, the first unmapped at free): 23.9 -> 22.7 MB, glibc 19.3
// (20.2 with runs evicting too, but dist_app lost 8%).
#ifndef HZ_KEEP_UNDER_PEAK
#define HZ_KEEP_UNDER_PEAK 1
#endif
inline constexpr bool kKeepUnderPeak = HZ_KEEP_UNDER_PEAK != 0 && kLargeKeep;
// Under RLIMIT_AS a freed large block's span is unmapped at once (its address
// space may be what the program's next mmap needs), unless the free spans'
// dirty pages stay within 1/HZ_RLIMIT_KEEP_SHARE of the limit with it: then
// it stays for reuse, as without the limit. Every malloc/free of a 300 KiB
// block cost an madvise, a munmap and an mmap (1.15 s for 200 000 pairs,
// glibc 0.002 s). 1/64 still left 16 threads trading blocks up to 2 MiB
// under a 2 GB limit unmapping at almost every free (TLB shootdowns: 47 k
// operations in 4 s, glibc 135-184 k); 1/16: 198-233 k. 0: unmapped always.
#ifndef HZ_RLIMIT_KEEP_SHARE
#define HZ_RLIMIT_KEEP_SHARE 16
#endif
inline constexpr size_t kRlimitKeepShare = HZ_RLIMIT_KEEP_SHARE;
// Under RLIMIT_AS, once the heap's range reaches 1/HZ_TIGHT_LIMIT_SHARE of
// the limit, memory left idle is reclaimed and free spans of 1 MiB or more
// unmapped at the slow path that leaves it, not after the decay's delay (a
// quarter made a 38 MB heap under a 100 MB limit churn its runs: 20-35%
// slower, peak RSS 21 -> 33 MB): a thread that freed 300 MiB of small blocks and
// then ran fast paths only (no later slow path to run the decay; a
// single-threaded program has no purger) held it for good, and the
// program's own mmap of 100 MiB failed under a limit of 420 MiB (glibc's
// free gave it back). 0: off.
#ifndef HZ_TIGHT_LIMIT_SHARE
#define HZ_TIGHT_LIMIT_SHARE 2
#endif
inline constexpr size_t kTightLimitShare = HZ_TIGHT_LIMIT_SHARE;
}  // namespace hz

// ---- realloc room (docs/boxes.md, "Realloc room") ----
namespace hz {
// A large block that realloc must move gets this much room past the old
// size, in percent of it (never less than asked; at most 1 GiB over it):
// a buffer grown step by step with other blocks made between the steps,
// each placed right after it, could not grow in place and was copied whole
// at every step (two buffers grown by 64 KiB to 64 MiB with a 300 KB block
// made after each step: 696 copies, 9.6 s; glibc's mremap 0.014 s; 50: 34
// copies, 0.15 s). The room is address space only until written (room
// placed over resident free pages is purged first). 100 moved
// less (24) but raised python_dict's peak by 1.3% against 50's -0.5%. Not
// under HAKOZUNA_ARENA_SIZE or RLIMIT_AS, where it would count against the
// limit. 0: off.
#ifndef HZ_REALLOC_ROOM_PCT
#define HZ_REALLOC_ROOM_PCT 50
#endif
inline constexpr size_t kReallocRoomPct = HZ_REALLOC_ROOM_PCT;
}  // namespace hz

// ---- fork (docs/boxes.md, "Fork handlers first") ----
namespace hz {
// Our fork handlers are registered ahead of every other object's: glibc
// runs prepare handlers last registered first, so a library's handler that
// allocates, registered before ours (its constructor runs before ours under
// LD_PRELOAD), spun on the locks ours had taken. __register_atfork is
// interposed (cache/fork_order.cpp). Off: registered by our constructor or
// first allocation, whichever comes first.
#ifndef HZ_ATFORK_FIRST
#define HZ_ATFORK_FIRST 1
#endif
inline constexpr bool kAtforkFirst = HZ_ATFORK_FIRST != 0;
}  // namespace hz

// ---- thread churn (docs/boxes.md, "Thread churn") ----
namespace hz {
// A thread cache taken back from the pool is cleared where its teardown left
// state (bins, counters), not whole: its remote stash and spill arrays (20 of
// its 21 KiB) hold no blocks by then. Off: the whole cache is zeroed.
#ifndef HZ_TC_RECYCLE
#define HZ_TC_RECYCLE 1
#endif
inline constexpr bool kTcRecycle = HZ_TC_RECYCLE != 0;
// A thread set-up takes its shard first, then, from the first few pooled
// caches, one last used on that same shard: its region's size tables (1025
// pointers) and its bins' constants (key, class, magic) are then still right,
// and neither is written again; only the counts are reset. Off: the pool's
// head, tables filled and bins zeroed and set at every set-up.
#ifndef HZ_TC_KEEP_TABLES
#define HZ_TC_KEEP_TABLES 1
#endif
inline constexpr bool kTcKeepTables = HZ_TC_KEEP_TABLES != 0;
// How many pooled caches a set-up looks at for one of its shard.
inline constexpr unsigned kTcKeepScan = 8;
// Caches of exited threads wait in a pool for the next thread, never given
// back: 39 KB resident each (a region's tables and bins, the stash and spill
// arrays). A decay pass purges the pages of those pooled for the decay
// delay; a purged cache comes back as a fresh one. 2 000 short threads at a
// time left 143 MB after idling (glibc 66). Off: pooled caches keep their
// pages.
#ifndef HZ_POOL_PURGE
#define HZ_POOL_PURGE 1
#endif
inline constexpr bool kPoolPurge = HZ_POOL_PURGE != 0;
// The test for caches of gone threads (one read of /proc/self/status) runs
// at every 16th thread set-up while it finds some; each test that finds none
// doubles the interval, up to this. 16: every 16th set-up, always.
#ifndef HZ_SWEEP_GAP_MAX
#define HZ_SWEEP_GAP_MAX 256
#endif
inline constexpr uint32_t kSweepGapMax = HZ_SWEEP_GAP_MAX;
static_assert(kSweepGapMax >= 16, "HZ_SWEEP_GAP_MAX: at least 16, the interval it starts from");
// Reclaim sorts a chain of batches into runs this many batches at a time, one
// block of each in turn with the next one prefetched (budget.cpp,
// sort_chain): the blocks a thread's exit sorts were freed long before, and a
// single walk waits for each cache miss in turn. 1: one block after another.
// The 16-byte class (no batch headers) is always walked block by block.
#ifndef HZ_SORT_LANES
#define HZ_SORT_LANES 16
#endif
inline constexpr unsigned kSortLanes = HZ_SORT_LANES;
static_assert(kSortLanes >= 1 && kSortLanes <= 64, "HZ_SORT_LANES: 1 to 64");
// Reclaim slices: a decay pass or a grow reclaim sorts at most this many
// blocks of a shard under its lock; the rest waits in the shard's drained
// list (where refills take it first) for the next pass, which comes at once.
// Sorting 1 GiB of 256-byte blocks in one go held the shard for 100-130 ms,
// inside a malloc of the thread that ran the pass or of one that needed the
// shard. Trim, exhaustion and thread exit sort everything. 0: no limit.
#ifndef HZ_RECLAIM_SLICE_BLOCKS
#define HZ_RECLAIM_SLICE_BLOCKS 32768
#endif
inline constexpr size_t kReclaimSliceBlocks = HZ_RECLAIM_SLICE_BLOCKS;
}  // namespace hz

// ---- idle return (issue 8; docs/boxes.md, "Idle return") ----
namespace hz {
// The purger takes back the cache of a thread that has not touched it for
// half the purge delay, while that thread sleeps in a system call outside
// the allocator (/proc/self/task/N/syscall, and no return address into our
// code on its stack): the fast paths see empty tables until it is done, and
// every slow path waits for it. Off: a thread's cache goes back only when it
// flushes, exits, or honours the exhaustion sequence's flush request.
// Only where our code is a shared object of its own (LD_PRELOAD, or linked
// against libhakozuna.so); never under valgrind; never under ThreadSanitizer,
// which cannot see the kernel's ordering that the protocol relies on.
#ifndef HZ_IDLE_RETURN
#define HZ_IDLE_RETURN 1
#endif
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kIdleReturn = false;
#else
inline constexpr bool kIdleReturn = HZ_IDLE_RETURN != 0;
#endif
// Most bytes of a sleeping thread's stack scanned for our return addresses;
// a deeper stack is left alone.
inline constexpr size_t kIdleStackScanMax = size_t{8} << 20;
// A thread that switches contexts (swapcontext/setcontext, which
// libhakozuna.so interposes: src/api/context_switch.cpp) is never taken: a
// preemptive scheduler's handler may have left a malloc half done on a stack
// the thread no longer runs on, where step 2 cannot see it. Off: such a
// program needs HAKOZUNA_IDLE_RETURN=0 (ctest idle.preempt_green fails).
#ifndef HZ_IDLE_CONTEXT_GUARD
#define HZ_IDLE_CONTEXT_GUARD 1
#endif
inline constexpr bool kIdleContextGuard = HZ_IDLE_CONTEXT_GUARD != 0 && kIdleReturn;
}  // namespace hz
