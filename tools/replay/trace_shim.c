// LD_PRELOAD shim over glibc's malloc: appends one line per call to
// $HZ_TRACE_OUT.<pid> ("m SIZE PTR", "f PTR", "r OLD SIZE NEW"; calloc and
// the aligned calls are logged as "m"). Used by tools/replay/replay.sh.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>

extern void* __libc_malloc(size_t);
extern void __libc_free(void*);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_memalign(size_t, size_t);

static int g_fd = -1;
static __thread int t_in;  // snprintf or getenv calling back into malloc

static void put(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char* fmt, ...) {
  if (t_in) return;
  t_in = 1;
  int saved = errno;
  if (g_fd < 0) {
    const char* out = getenv("HZ_TRACE_OUT");
    char path[512];
    snprintf(path, sizeof path, "%s.%d", out ? out : "/tmp/hz_trace", (int)getpid());
    g_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  char line[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (g_fd >= 0 && n > 0 && write(g_fd, line, (size_t)n) < 0) {}
  errno = saved;
  t_in = 0;
}

void* malloc(size_t n) { void* p = __libc_malloc(n); put("m %zu %p\n", n, p); return p; }
void free(void* p) { if (p) put("f %p\n", p); __libc_free(p); }
void* calloc(size_t a, size_t b) { void* p = __libc_calloc(a, b); if (p) put("m %zu %p\n", a * b, p); return p; }
void* realloc(void* o, size_t n) { void* p = __libc_realloc(o, n); put("r %p %zu %p\n", o, n, p); return p; }
void* memalign(size_t a, size_t n) { void* p = __libc_memalign(a, n); put("m %zu %p\n", n, p); return p; }
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void** r, size_t a, size_t n) {
  void* p = memalign(a, n);
  if (!p) return ENOMEM;
  *r = p;
  return 0;
}
