// The one place where hakozuna catches a C++ exception: a new-handler that
// throws, run for a nothrow operator new, which must return null instead
// (api/new_delete.cpp's no_runtime: the C++ runtime is linked into the
// program, so no runtime's nothrow form was found to run it). Compiled with
// -fexceptions; the runtime's pieces it needs are weak references, so a C
// program (no runtime) links and loads as before. There an exception can
// only come from C++ code, which brings them.
#include <new>

// Weak: the personality routine and the catch calls of the C++ runtime.
__asm__(".weak __gxx_personality_v0\n\t.weak __cxa_begin_catch\n\t.weak __cxa_end_catch");

extern "C" __attribute__((visibility("hidden"))) bool hz_new_handler_threw(std::new_handler h) noexcept {
  try {
    h();
  } catch (...) {
    return true;
  }
  return false;
}
