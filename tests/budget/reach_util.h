// Shared by the reach tests (issue 8): RSS read without allocating, and a
// thread that stays alive without calling the allocator.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace reach {

// Reads a /proc file into buf (terminated), without malloc: fopen would
// allocate. Aborts if it cannot. Not src/os's read_proc and thread_count:
// tests/idle include this file and link libhakozuna.so, which hides them.
inline void read_proc(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) abort();
  buf[n] = 0;
}

inline size_t rss_bytes() {
  char buf[128];
  read_proc("/proc/self/statm", buf, sizeof buf);
  char* p = buf;
  strtol(p, &p, 10);
  return static_cast<size_t>(strtol(p, nullptr, 10)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Threads in this process: field 20 of /proc/self/stat.
inline long thread_count() {
  char buf[1024];
  read_proc("/proc/self/stat", buf, sizeof buf);
  const char* p = strrchr(buf, ')');  // the command name may hold spaces
  for (int field = 2; p && field < 20; ++field) p = strchr(p + 1, ' ');
  return p ? strtol(p + 1, nullptr, 10) : -1;
}

// A thread that stays alive, making no allocator call, until released.
struct Parked {
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  void wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return go; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> l(mu);
      go = true;
    }
    cv.notify_all();
  }
};

}  // namespace reach
