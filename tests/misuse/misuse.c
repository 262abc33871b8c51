// Heap-misuse suite, C cases: one process per case (`misuse_c CASE`), the
// table at the bottom names every case. See misuse.h for the verdicts and
// docs/security.md for the categories.
#include "misuse.h"

enum { DIRECT, MEMCPY };              // overflow/underflow: how the bytes are written
enum { WHOLE, TAIL };                 // use after free: which bytes are written
enum { MALLOC0, CALLOC0, ALIGNED0 };  // zero-size: which call made the block

// ---- overflow / underflow: k bytes past the usable end or before the start ----
// The victim sits between live blocks of its size, so the bytes hit a
// neighbour, a header or a guard, as the allocator's layout decides. Sizes are
// measured from malloc_usable_size: bytes inside the usable size are the
// program's to write.
static void overflow(const mcase* c) {
  unsigned char* b[5];
  for (int i = 0; i < 5; i++) memset(b[i] = need(malloc(c->n)), 0x11, c->n);
  unsigned char* p = b[2];
  size_t u = malloc_usable_size(p);
  if (c->how == DIRECT)
    xor_bytes(p + u, c->k);
  else
    xor_memcpy(p, u + c->k);
  for (int i = 2; i < 7; i++) free(b[i % 5]);  // the victim first: checks on free see it
  finish(c->n);
}

static void underflow(const mcase* c) {
  unsigned char* b[5];
  for (int i = 0; i < 5; i++) memset(b[i] = need(malloc(c->n)), 0x11, c->n);
  unsigned char* p = b[2];
  size_t u = malloc_usable_size(p);
  if (c->how == DIRECT)
    xor_bytes(p - c->k, c->k);
  else
    xor_memcpy(p - c->k, c->k + u);
  for (int i = 2; i < 7; i++) free(b[i % 5]);
  finish(c->n);
}

// ---- double free ----
static void df_immediate(const mcase* c) {
  void* p = need(malloc(c->n));
  free(p);
  free(opaque(p));
  finish(c->n);
}

// Other blocks of the size are freed after it and other sizes come and go, so
// the block is no longer at the top of its free list (nor reused).
static void df_delayed(const mcase* c) {
  void* p = need(malloc(c->n));
  void* q[8];
  for (int i = 0; i < 8; i++) q[i] = need(malloc(c->n));
  free(p);
  for (int i = 0; i < 8; i++) free(q[i]);
  for (int i = 0; i < 16; i++) free(need(malloc(100)));
  free(opaque(p));
  finish(c->n);
}

static void df_interleaved(const mcase* c) {  // a, b, a: defeats a "same as last freed" check
  void* a = need(malloc(c->n));
  void* b = need(malloc(c->n));
  free(a);
  free(b);
  free(opaque(a));
  finish(c->n);
}

// The stale free hits the block after malloc handed it out again: then the
// block is live twice. Caught if the stale free is refused (the allocator did
// not reuse at once, so it is a plain double free) ...
static void df_after_reuse(const mcase* c) {
  void* p = need(malloc(c->n));
  free(p);
  void* q = need(malloc(c->n));
  free(opaque(p));
  void* r = need(malloc(c->n));
  if (r == q) say("NOT CAUGHT", "%p handed out twice after a stale free", r);
  free(r);
  free(q);  // ... or, failing that, when the owner of q frees it
  finish(c->n);
}

static void* free_twice(void* p) {
  free(p);
  free(opaque(p));
  return NULL;
}

static void df_remote(const mcase* c) {  // freed twice by a thread that does not own it
  void* p = need(malloc(c->n));
  pthread_t t;
  if (pthread_create(&t, NULL, free_twice, p) != 0) say("SETUP FAILED", "pthread_create");
  pthread_join(t, NULL);
  finish(c->n);
}

static void df_realloc(const mcase* c) {
  void* p = need(malloc(c->n));
  free(p);
  free(realloc(opaque(p), 2 * c->n));
  finish(c->n);
}

// ---- invalid free: pointers malloc never returned ----
static char global_buf[8192] __attribute__((aligned(4096)));

static void if_stack(const mcase* c) {
  char buf[256] __attribute__((aligned(64)));
  memset(buf, 1, sizeof buf);
  free(opaque(buf + 64));
  finish(c->n);
}

static void if_alloca(const mcase* c) {
  char* p = (char*)alloca(256);
  memset(p, 1, 256);
  free(opaque(p));
  finish(c->n);
}

static void if_global(const mcase* c) {
  free(opaque(global_buf + 64));
  finish(c->n);
}

static void if_mmap(const mcase* c) {  // a page of someone else's mapping
  unsigned char* m = scratch(64 << 10);
  free(opaque(m + 4096));
  finish(c->n);
}

static void if_far(const mcase* c) {  // 1 GiB past a live small block
  unsigned char* p = need(malloc(c->n));
  free(opaque(p + ((size_t)1 << 30)));
  finish(c->n);
}

static void if_wild(const mcase* c) {  // 16 TiB: nothing is mapped there
  free(opaque((void*)(uintptr_t)0x100000000010ULL));
  finish(c->n);
}

static void if_offset(const mcase* c) {  // p + k: unaligned (1, 8) or nearby (64 KiB)
  unsigned char* p = need(malloc(c->n));
  free(opaque(p + c->k));
  finish(c->n);
}

static void if_middle(const mcase* c) {  // the middle of a live block, 16-aligned
  unsigned char* p = need(malloc(c->n));
  free(opaque(p + (malloc_usable_size(p) / 2 & ~(size_t)15)));
  finish(c->n);
}

// ---- use after free ----
// Read: caught if the read faults or none of the block's former contents can
// be read back through the dangling pointer.
static void uaf_read(const mcase* c) {
  void* p = need(malloc(c->n));
  size_t u = malloc_usable_size(p);
  fill_secret(p, u);
  free(p);
  size_t left = count_secret(opaque(p), u);
  if (left) say("NOT CAUGHT", "%zu of %zu words still readable after free", left, u / 8);
  say("CAUGHT", "the freed block no longer holds its contents");
}

static void uaf_write(const mcase* c) {
  unsigned char* p = need(malloc(c->n));
  size_t u = malloc_usable_size(p);
  memset(p, 0x11, u);
  free(p);
  if (c->how == TAIL)
    xor_bytes(p + u - 8, 8);  // past any free-list link at the start
  else
    xor_bytes(p, u);
  finish(c->n);
}

static void uaf_write_after_realloc(const mcase* c) {  // writes through the old pointer
  unsigned char* p = need(malloc(c->n));
  void* fence = need(malloc(c->n));  // so that p cannot grow in place
  size_t u = malloc_usable_size(p);
  unsigned char* q = need(realloc(p, 100000));
  if (q == p) say("SETUP FAILED", "realloc did not move the block");
  xor_bytes(p, u);
  free(q);
  free(fence);
  finish(c->n);
}

// ---- zero-size blocks: k bytes read (0) or written ----
static void zero_size(const mcase* c) {
  unsigned char* p = c->how == MALLOC0   ? malloc(opaque(c->n))
                     : c->how == CALLOC0 ? calloc(opaque(c->n), 1)
                                         : aligned_alloc(64, opaque(c->n));
  if (!p) say("CAUGHT", "returned NULL");
  if (c->k == 0)
    (void)*(volatile unsigned char*)opaque(p);
  else
    xor_bytes(p, c->k);
  free(p);
  finish(c->n);
}

// ---- freed memory not cleared: k blocks full of a secret, freed, then as
// many fresh blocks of the size; caught if none shows any of the secret ----
static void not_cleared(const mcase* c) {
  void* v[32];
  size_t left = 0;
  for (size_t i = 0; i < c->k; i++) {
    v[i] = need(malloc(c->n));
    fill_secret(v[i], malloc_usable_size(v[i]));
  }
  for (size_t i = 0; i < c->k; i++) free(v[i]);
  for (size_t i = 0; i < c->k; i++) {
    v[i] = need(malloc(c->n));
    left += count_secret(v[i], malloc_usable_size(v[i]));
  }
  if (left) say("NOT CAUGHT", "%zu words of freed data readable in new blocks", left);
  say("CAUGHT", "new blocks hold none of the freed data");
}

// ---- immediate reuse: free, then k mallocs of the size; caught if none of
// them returns the address just freed ----
static void reuse(const mcase* c) {
  void* p = need(malloc(c->n));
  free(p);
  for (size_t i = 0; i < c->k; i++)
    if (need(malloc(c->n)) == p) say("NOT CAUGHT", "free then malloc #%zu returned %p again", i + 1, p);
  say("CAUGHT", "no reuse within %zu mallocs", c->k);
}

// ---- executable heap: the permissions of the mapping that holds the block ----
static void exec_heap(const mcase* c) {
  void* p = need(malloc(c->n));
  static char maps[1 << 20];  // read without stdio, which would allocate
  int fd = open("/proc/self/maps", O_RDONLY);
  size_t len = 0;
  ssize_t r;
  while (fd >= 0 && len < sizeof maps - 1 && (r = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
    len += (size_t)r;
  maps[len] = '\0';
  for (char* line = maps; *line;) {
    unsigned long lo, hi;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && lo <= (uintptr_t)p && (uintptr_t)p < hi) {
      if (perms[2] == 'x') say("NOT CAUGHT", "block %p is in a mapping with %s", p, perms);
      say("CAUGHT", "block %p is in a mapping with %s", p, perms);
    }
    char* nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  say("SETUP FAILED", "no mapping holds %p", p);
}

// ---- impossible sizes: must fail with the right errno, not crash or succeed ----
static void expect_failure(void* p, int want, const char* call) {
  int e = errno;
  if (p) say("NOT CAUGHT", "%s succeeded", call);
  if (e != want) say("NOT CAUGHT", "%s returned NULL with errno %d, not %d", call, e, want);
  say("CAUGHT", "%s failed with %s", call, want == ENOMEM ? "ENOMEM" : "EINVAL");
}

static void imp_malloc(const mcase* c) {
  errno = 0;
  expect_failure(malloc(opaque(c->n)), ENOMEM, "malloc");
}

static void imp_calloc(const mcase* c) {  // n * k overflows size_t
  errno = 0;
  expect_failure(calloc(opaque(c->n), opaque(c->k)), ENOMEM, "calloc");
}

// realloc/reallocarray: the old block must be left intact and still usable.
static void imp_realloc(const mcase* c) {
  unsigned char* p = need(malloc(64));
  memset(p, 0x5A, 64);
  errno = 0;
  void* q = c->k ? reallocarray(opaque(p), opaque(c->n), opaque(c->k)) : realloc(opaque(p), opaque(c->n));
  int e = errno;
  if (q) say("NOT CAUGHT", "realloc succeeded");
  for (int i = 0; i < 64; i++)
    if (p[i] != 0x5A) say("NOT CAUGHT", "the old block changed");
  free(p);
  errno = e;
  expect_failure(q, ENOMEM, c->k ? "reallocarray" : "realloc");
}

static void imp_aligned_alloc(const mcase* c) {  // k: the alignment
  errno = 0;
  expect_failure(aligned_alloc(opaque(c->k), opaque(c->n)), c->how, "aligned_alloc");
}

static void imp_posix_memalign(const mcase* c) {  // returns the error, errno untouched
  void* p = NULL;
  int r = posix_memalign(&p, opaque(c->k), opaque(c->n));
  if (r == 0) say("NOT CAUGHT", "posix_memalign succeeded");
  if (r != c->how) say("NOT CAUGHT", "posix_memalign returned %d, not %d", r, c->how);
  say("CAUGHT", "posix_memalign returned %s", r == ENOMEM ? "ENOMEM" : "EINVAL");
}

#define SZMAX SIZE_MAX
#define HALF ((SIZE_MAX >> 1) + 1)

static const mcase cases[] = {
    // name                                category       mode   run          n  k  how
    {"overflow_small_1_direct", "overflow", SIG, overflow, S, 1, DIRECT},
    {"overflow_small_1_memcpy", "overflow", SIG, overflow, S, 1, MEMCPY},
    {"overflow_small_32_direct", "overflow", SIG, overflow, S, 32, DIRECT},
    {"overflow_small_32_memcpy", "overflow", SIG, overflow, S, 32, MEMCPY},
    {"overflow_small_1m_direct", "overflow", SIG, overflow, S, MIB, DIRECT},
    {"overflow_small_1m_memcpy", "overflow", SIG, overflow, S, MIB, MEMCPY},
    {"overflow_medium_1_direct", "overflow", SIG, overflow, M, 1, DIRECT},
    {"overflow_medium_1_memcpy", "overflow", SIG, overflow, M, 1, MEMCPY},
    {"overflow_medium_32_direct", "overflow", SIG, overflow, M, 32, DIRECT},
    {"overflow_medium_32_memcpy", "overflow", SIG, overflow, M, 32, MEMCPY},
    {"overflow_medium_1m_direct", "overflow", SIG, overflow, M, MIB, DIRECT},
    {"overflow_medium_1m_memcpy", "overflow", SIG, overflow, M, MIB, MEMCPY},
    {"overflow_large_1_direct", "overflow", SIG, overflow, L, 1, DIRECT},
    {"overflow_large_1_memcpy", "overflow", SIG, overflow, L, 1, MEMCPY},
    {"overflow_large_32_direct", "overflow", SIG, overflow, L, 32, DIRECT},
    {"overflow_large_32_memcpy", "overflow", SIG, overflow, L, 32, MEMCPY},
    {"overflow_large_1m_direct", "overflow", SIG, overflow, L, MIB, DIRECT},
    {"overflow_large_1m_memcpy", "overflow", SIG, overflow, L, MIB, MEMCPY},

    {"underflow_small_1_direct", "underflow", SIG, underflow, S, 1, DIRECT},
    {"underflow_small_1_memcpy", "underflow", SIG, underflow, S, 1, MEMCPY},
    {"underflow_small_32_direct", "underflow", SIG, underflow, S, 32, DIRECT},
    {"underflow_small_32_memcpy", "underflow", SIG, underflow, S, 32, MEMCPY},
    {"underflow_small_1m_direct", "underflow", SIG, underflow, S, MIB, DIRECT},
    {"underflow_small_1m_memcpy", "underflow", SIG, underflow, S, MIB, MEMCPY},
    {"underflow_medium_1_direct", "underflow", SIG, underflow, M, 1, DIRECT},
    {"underflow_medium_1_memcpy", "underflow", SIG, underflow, M, 1, MEMCPY},
    {"underflow_medium_32_direct", "underflow", SIG, underflow, M, 32, DIRECT},
    {"underflow_medium_32_memcpy", "underflow", SIG, underflow, M, 32, MEMCPY},
    {"underflow_medium_1m_direct", "underflow", SIG, underflow, M, MIB, DIRECT},
    {"underflow_medium_1m_memcpy", "underflow", SIG, underflow, M, MIB, MEMCPY},
    {"underflow_large_1_direct", "underflow", SIG, underflow, L, 1, DIRECT},
    {"underflow_large_1_memcpy", "underflow", SIG, underflow, L, 1, MEMCPY},
    {"underflow_large_32_direct", "underflow", SIG, underflow, L, 32, DIRECT},
    {"underflow_large_32_memcpy", "underflow", SIG, underflow, L, 32, MEMCPY},
    {"underflow_large_1m_direct", "underflow", SIG, underflow, L, MIB, DIRECT},
    {"underflow_large_1m_memcpy", "underflow", SIG, underflow, L, MIB, MEMCPY},

    {"double_free_immediate_small", "double_free", SIG, df_immediate, S, 0, 0},
    {"double_free_immediate_medium", "double_free", SIG, df_immediate, M, 0, 0},
    {"double_free_immediate_large", "double_free", SIG, df_immediate, L, 0, 0},
    {"double_free_delayed_small", "double_free", SIG, df_delayed, S, 0, 0},
    {"double_free_delayed_medium", "double_free", SIG, df_delayed, M, 0, 0},
    {"double_free_delayed_large", "double_free", SIG, df_delayed, L, 0, 0},
    {"double_free_interleaved_small", "double_free", SIG, df_interleaved, S, 0, 0},
    {"double_free_interleaved_medium", "double_free", SIG, df_interleaved, M, 0, 0},
    {"double_free_interleaved_large", "double_free", SIG, df_interleaved, L, 0, 0},
    {"double_free_after_reuse_small", "double_free", SIG, df_after_reuse, S, 0, 0},
    {"double_free_after_reuse_medium", "double_free", SIG, df_after_reuse, M, 0, 0},
    {"double_free_after_reuse_large", "double_free", SIG, df_after_reuse, L, 0, 0},
    {"double_free_remote_small", "double_free", SIG, df_remote, S, 0, 0},
    {"double_free_remote_medium", "double_free", SIG, df_remote, M, 0, 0},
    {"double_free_remote_large", "double_free", SIG, df_remote, L, 0, 0},
    {"double_free_realloc_small", "double_free", SIG, df_realloc, S, 0, 0},
    {"double_free_realloc_medium", "double_free", SIG, df_realloc, M, 0, 0},
    {"double_free_realloc_large", "double_free", SIG, df_realloc, L, 0, 0},

    {"invalid_free_stack", "invalid_free", SIG, if_stack, S, 0, 0},
    {"invalid_free_alloca", "invalid_free", SIG, if_alloca, S, 0, 0},
    {"invalid_free_global", "invalid_free", SIG, if_global, S, 0, 0},
    {"invalid_free_mmap", "invalid_free", SIG, if_mmap, S, 0, 0},
    {"invalid_free_far", "invalid_free", SIG, if_far, S, 0, 0},
    {"invalid_free_wild", "invalid_free", SIG, if_wild, S, 0, 0},
    {"invalid_free_nearby", "invalid_free", SIG, if_offset, S, 64 << 10, 0},
    {"invalid_free_unaligned1_small", "invalid_free", SIG, if_offset, S, 1, 0},
    {"invalid_free_unaligned1_medium", "invalid_free", SIG, if_offset, M, 1, 0},
    {"invalid_free_unaligned1_large", "invalid_free", SIG, if_offset, L, 1, 0},
    {"invalid_free_unaligned8_small", "invalid_free", SIG, if_offset, S, 8, 0},
    {"invalid_free_unaligned8_medium", "invalid_free", SIG, if_offset, M, 8, 0},
    {"invalid_free_unaligned8_large", "invalid_free", SIG, if_offset, L, 8, 0},
    {"invalid_free_middle_small", "invalid_free", SIG, if_middle, S, 0, 0},
    {"invalid_free_middle_medium", "invalid_free", SIG, if_middle, M, 0, 0},
    {"invalid_free_middle_large", "invalid_free", SIG, if_middle, L, 0, 0},

    {"uaf_read_small", "use_after_free", SIG, uaf_read, S, 0, 0},
    {"uaf_read_medium", "use_after_free", SIG, uaf_read, M, 0, 0},
    {"uaf_read_large", "use_after_free", SIG, uaf_read, L, 0, 0},
    {"uaf_write_small", "use_after_free", SIG, uaf_write, S, 0, WHOLE},
    {"uaf_write_medium", "use_after_free", SIG, uaf_write, M, 0, WHOLE},
    {"uaf_write_large", "use_after_free", SIG, uaf_write, L, 0, WHOLE},
    {"uaf_write_tail_small", "use_after_free", SIG, uaf_write, S, 0, TAIL},
    {"uaf_write_tail_medium", "use_after_free", SIG, uaf_write, M, 0, TAIL},
    {"uaf_write_after_realloc", "use_after_free", SIG, uaf_write_after_realloc, S, 0, 0},

    {"zero_malloc_read", "zero_size", SIG, zero_size, 0, 0, MALLOC0},
    {"zero_malloc_write1", "zero_size", SIG, zero_size, 0, 1, MALLOC0},
    {"zero_malloc_write16", "zero_size", SIG, zero_size, 0, 16, MALLOC0},
    {"zero_calloc_write8", "zero_size", SIG, zero_size, 0, 8, CALLOC0},
    {"zero_aligned_alloc_write16", "zero_size", SIG, zero_size, 0, 16, ALIGNED0},

    {"not_cleared_small", "not_cleared", CLEAN, not_cleared, S, 1, 0},
    {"not_cleared_medium", "not_cleared", CLEAN, not_cleared, M, 1, 0},
    {"not_cleared_large", "not_cleared", CLEAN, not_cleared, L, 1, 0},
    {"not_cleared_small_x32", "not_cleared", CLEAN, not_cleared, S, 32, 0},

    {"reuse_small", "reuse", CLEAN, reuse, S, 1, 0},
    {"reuse_medium", "reuse", CLEAN, reuse, M, 1, 0},
    {"reuse_large", "reuse", CLEAN, reuse, L, 1, 0},
    {"reuse_small_within8", "reuse", CLEAN, reuse, S, 8, 0},

    {"exec_heap_small", "exec_heap", CLEAN, exec_heap, S, 0, 0},
    {"exec_heap_medium", "exec_heap", CLEAN, exec_heap, M, 0, 0},
    {"exec_heap_large", "exec_heap", CLEAN, exec_heap, L, 0, 0},

    {"impossible_malloc_size_max", "impossible", CLEAN, imp_malloc, SZMAX, 0, 0},
    {"impossible_malloc_ptrdiff_max", "impossible", CLEAN, imp_malloc, HALF, 0, 0},  // PTRDIFF_MAX + 1
    {"impossible_malloc_128tib", "impossible", CLEAN, imp_malloc, (size_t)1 << 47, 0, 0},  // all user space
    {"impossible_calloc_overflow", "impossible", CLEAN, imp_calloc, HALF, 2, 0},  // wraps to 0
    {"impossible_calloc_overflow_4g", "impossible", CLEAN, imp_calloc, ((size_t)1 << 32) + 1, (size_t)1 << 32, 0},  // wraps to 4 GiB
    {"impossible_realloc_size_max", "impossible", CLEAN, imp_realloc, SZMAX, 0, 0},
    {"impossible_reallocarray_overflow", "impossible", CLEAN, imp_realloc, HALF, 2, 0},
    {"impossible_aligned_alloc_align3", "impossible", CLEAN, imp_aligned_alloc, 64, 3, EINVAL},
    {"impossible_aligned_alloc_size_max", "impossible", CLEAN, imp_aligned_alloc, SZMAX & ~(size_t)63, 64, ENOMEM},
    {"impossible_posix_memalign_align3", "impossible", CLEAN, imp_posix_memalign, 64, 3, EINVAL},
    {"impossible_posix_memalign_size_max", "impossible", CLEAN, imp_posix_memalign, SZMAX & ~(size_t)63, 64, ENOMEM},
};

int main(int argc, char** argv) { return misuse_main(cases, sizeof cases / sizeof cases[0], argc, argv); }
