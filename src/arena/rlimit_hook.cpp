// The reservation follows RLIMIT_AS set at run time: setrlimit and prlimit
// on this process pass through here, and a new address-space limit makes
// the page heap give back what it reserved past its top (fit_limit in
// reserve.cpp). The 256 GiB reserved at the first malloc count against the
// limit: a program that set 256 MiB after it (python's resource.setrlimit)
// could no longer mmap or start a thread, and its mallocs went on past the
// limit inside the reservation. A limit set by another process (prlimit
// from outside) is seen at the heap's next growth or decay pass instead.
//
// Weak, as the fork registration interposer (cache/fork_order.cpp): in a
// static program libc's own definitions may win, and then only growth sees
// the limit.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena/arena.h"

#if HZ_OVERRIDE
namespace {
int set_limit(pid_t pid, int resource, const void* new_limit, void* old_limit) {
  long rc = syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
  // Any pid: a thread's id names its process too, and for another process
  // fit_limit finds our own limit unchanged.
  if (rc == 0 && new_limit && resource == RLIMIT_AS) hz::arena::limit_changed();
  return static_cast<int>(rc);
}
}  // namespace

extern "C" {
__attribute__((weak, visibility("default"))) int setrlimit(__rlimit_resource_t resource, const struct rlimit* rlim) __THROW {
  return set_limit(0, resource, rlim, nullptr);
}
__attribute__((weak, visibility("default"))) int setrlimit64(__rlimit_resource_t resource, const struct rlimit64* rlim) __THROW {
  return set_limit(0, resource, rlim, nullptr);
}
__attribute__((weak, visibility("default"))) int prlimit(__pid_t pid, enum __rlimit_resource resource, const struct rlimit* new_limit,
                                                         struct rlimit* old_limit) __THROW {
  return set_limit(pid, resource, new_limit, old_limit);
}
__attribute__((weak, visibility("default"))) int prlimit64(__pid_t pid, enum __rlimit_resource resource,
                                                           const struct rlimit64* new_limit, struct rlimit64* old_limit) __THROW {
  return set_limit(pid, resource, new_limit, old_limit);
}
}
#endif
