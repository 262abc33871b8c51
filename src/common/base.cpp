#include "common/base.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hz {

// A raw system call: libc's write() is a cancellation point, and none may be
// acted on inside malloc (POSIX lists no allocation function among them).
void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    long w = syscall(SYS_write, fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void write_stderr(const char* s) { write_all(2, s, strlen(s)); }

size_t format_u64(char* out, uint64_t v) {
  char d[20];
  size_t n = 0;
  do {
    d[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i) out[i] = d[n - 1 - i];
  return n;
}

void format_ptr(char* buf, size_t cap, const char* prefix, const void* p, const char* suffix) {
  size_t i = 0;
  auto put = [&](char c) {
    if (i + 1 < cap) buf[i++] = c;
  };
  for (const char* s = prefix; *s; ++s) put(*s);
  put('0');
  put('x');
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  char digits[16];
  int nd = 0;
  do {
    digits[nd++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  while (nd > 0) put(digits[--nd]);
  for (const char* s = suffix; *s; ++s) put(*s);
  buf[i] = '\0';
}

void fatal(const char* msg) {
  write_stderr("hakozuna: ");
  write_stderr(msg);
  write_stderr("\n");
  abort();
}

void heap_corruption(const char* what, const void* p) {
  char prefix[160];
  size_t i = 0;
  for (const char* s = "hakozuna: heap corruption detected ("; *s; ++s) prefix[i++] = *s;
  for (const char* s = what; *s && i < 120; ++s) prefix[i++] = *s;
  for (const char* s = ") near "; *s; ++s) prefix[i++] = *s;
  prefix[i] = '\0';
  char buf[200];
  format_ptr(buf, sizeof buf, prefix, p, "\n");
  write_stderr(buf);
  abort();
}

void misuse(const char* call, const char* what, const void* p) {
  char buf[160];
  char prefix[80];
  size_t i = 0;
  for (const char* s = "hakozuna: "; *s; ++s) prefix[i++] = *s;
  for (const char* s = call; *s && i < 36; ++s) prefix[i++] = *s;
  for (const char* s = "(): "; *s; ++s) prefix[i++] = *s;
  for (const char* s = what; *s && i + 2 < sizeof prefix; ++s) prefix[i++] = *s;
  prefix[i++] = ' ';
  prefix[i] = '\0';
  format_ptr(buf, sizeof buf, prefix, p, "\n");
  write_stderr(buf);
  abort();
}

void invalid_pointer(const char* call, const void* p) { misuse(call, "invalid pointer", p); }
void double_free(const char* call, const void* p) { misuse(call, "double free", p); }

void SpinLock::wait() {
  for (int spins = 0;; ++spins) {
    if (!flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire)) return;
    if (spins < 64) {
      __builtin_ia32_pause();
    } else {
      sched_yield();
    }
  }
}

}  // namespace hz
