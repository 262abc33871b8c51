#include "os/os.h"

#include "common/base.h"

#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace hz::os {

namespace {
constexpr int kProt = PROT_READ | PROT_WRITE;
constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
}  // namespace

void* reserve(size_t size, void* hint, bool accessible) {
  void* p = mmap(hint, size, accessible ? kProt : PROT_NONE, kFlags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void* reserve_aligned(size_t size, size_t align, void* hint, bool accessible) {
  void* p = reserve(size, hint, accessible);
  if (!p || (reinterpret_cast<uintptr_t>(p) & (align - 1)) == 0) return p;
  release(p, size);
  // Over-reserve and trim both ends, so the range can later grow at its end.
  char* raw = static_cast<char*>(reserve(size + align, nullptr, accessible));
  if (!raw) return nullptr;
  uintptr_t a = (reinterpret_cast<uintptr_t>(raw) + align - 1) & ~(align - 1);
  size_t head = a - reinterpret_cast<uintptr_t>(raw);
  if (head) release(raw, head);
  release(reinterpret_cast<char*>(a) + size, align - head);
  return reinterpret_cast<void*>(a);
}

bool reserve_at(void* p, size_t size, bool accessible) {
  void* q = mmap(p, size, accessible ? kProt : PROT_NONE, kFlags | MAP_FIXED_NOREPLACE, -1, 0);
  if (q == MAP_FAILED) return false;
  if (q == p) return true;
  munmap(q, size);  // a kernel before 4.17 took the flag for a hint
  return false;
}

bool release(void* p, size_t size) { return munmap(p, size) == 0; }

bool purge(void* p, size_t size, bool accessible) {
  const int saved = errno;  // a free or a trim must not change the program's errno
  bool dropped = madvise(p, size, MADV_DONTNEED) == 0;
  // Locked pages (mlock, mlockall) refuse it (EINVAL) and keep their bytes,
  // but the callers count on zeros (calloc skips its memset over purged
  // pages; thread caches are carved unwritten): fresh pages replace them.
  if (!dropped && errno != ENOMEM) {
    void* q = mmap(p, size, accessible ? kProt : PROT_NONE, kFlags | MAP_FIXED, -1, 0);
    if (q == MAP_FAILED && accessible) memset(p, 0, size);  // at the mapping limit
  }
  errno = saved;
  return dropped;
}

bool protect(void* p, size_t size, bool accessible) {
  const int prot = accessible ? kProt : PROT_NONE, before = errno;
  if (mprotect(p, size, prot) == 0) return true;
  // A filter that refuses mprotect (a sandbox: EPERM, EACCES, ENOSYS; every
  // malloc failed, glibc's never calls it): fresh pages mapped over the range
  // instead. Every caller's range holds nothing to keep (reserved past the
  // heap's open end, or a freed span).
  if (errno != EPERM && errno != EACCES && errno != ENOSYS) return false;
  const int refused = errno;
  const bool mapped = mmap(p, size, prot, kFlags | MAP_FIXED, -1, 0) != MAP_FAILED;
  errno = mapped ? before : refused;  // a malloc that succeeds leaves errno alone
  return mapped;
}

void advise_hugepages(void* p, size_t size) { madvise(p, size, MADV_HUGEPAGE); }

uint32_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>(static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000);
}

size_t backable_bytes() {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return ~size_t{0};
  return (static_cast<size_t>(si.totalram) + si.totalswap) * si.mem_unit;
}

size_t address_space_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return kUnlimited;
  return static_cast<size_t>(rl.rlim_cur);
}

size_t read_proc(const char* path, char* buf, size_t cap) {
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  long n = syscall(SYS_read, fd, buf, cap - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return static_cast<size_t>(n);
}

AddressSpace address_space() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return {kUnlimited, kUnlimited};
  size_t limit = static_cast<size_t>(rl.rlim_cur);
  // The kernel compares total_vm (statm's first field) with the limit.
  char buf[64];
  size_t pages = 0;
  if (read_proc("/proc/self/statm", buf, sizeof buf))
    for (const char* p = buf; *p >= '0' && *p <= '9'; ++p) pages = pages * 10 + static_cast<size_t>(*p - '0');
  size_t used = pages * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return {limit, limit > used ? limit - used : 0};
}

bool main_thread_gone() {
  char path[64] = "/proc/self/task/", buf[1024];
  char* p = path + 16 + hz::format_u64(path + 16, static_cast<uint64_t>(getpid()));
  const char kTail[] = "/stat";
  for (char c : kTail) *p++ = c;
  size_t n = read_proc(path, buf, sizeof buf);
  if (!n) return false;
  const char* q = buf + n;
  while (q > buf && *q != ')') --q;
  return *q == ')' && q[1] == ' ' && q[2] == 'Z';
}

unsigned thread_count() {
  // num_threads, field 20 of /proc/self/stat (status has it after the
  // Groups line, which a few hundred groups push past any fixed buffer);
  // fields start at 3 after the command's closing parenthesis. 0 when unknown.
  char buf[1024];
  size_t n = read_proc("/proc/self/stat", buf, sizeof buf);
  if (!n) return 0;
  const char* p = buf + n;
  while (p > buf && *p != ')') --p;
  if (*p != ')') return 0;
  for (int f = 2; f < 20 && *p; ++p)
    if (*p == ' ') ++f;
  unsigned v = 0;
  for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<unsigned>(*p - '0');
  return v;
}

uint64_t random_u64() {
  uint64_t v = 0;
  if (syscall(SYS_getrandom, &v, sizeof v, GRND_NONBLOCK) == static_cast<long>(sizeof v)) return v;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  v = (static_cast<uint64_t>(ts.tv_nsec) ^ reinterpret_cast<uintptr_t>(&ts)) * 0x9E3779B97F4A7C15ull;
  return v ^ (v >> 31);
}

}  // namespace hz::os
