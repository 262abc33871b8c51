// The answer to context_wrap.cpp's __real_swapcontext and __real_setcontext
// in a program linked with the whole archive but without
// -Wl,--wrap=swapcontext,--wrap=setcontext (nothing calls them there). Its
// own object: --wrap redirects only references that are undefined in theirs;
// default visibility: the archive's weak hidden functions get renamed.
#include <errno.h>
#include <ucontext.h>

#include "config.h"

#if HZ_OVERRIDE
extern "C" {
__attribute__((weak, visibility("default"))) int __real_swapcontext(ucontext_t*, const ucontext_t*) {
  errno = ENOSYS;
  return -1;
}
__attribute__((weak, visibility("default"))) int __real_setcontext(const ucontext_t*) {
  errno = ENOSYS;
  return -1;
}
}
#endif
