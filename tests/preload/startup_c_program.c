/* A plain C program (no C++ runtime of its own), for the start-up tests:
 *   startup_c_program             a few blocks, filled and checked: prints "ok"
 *   startup_c_program new-nothrow operator new(2^62, nothrow) found by dlsym:
 *                                 prints "nullptr" (no runtime needed)
 *   startup_c_program new         operator new(2^62): with no C++ runtime to
 *                                 throw std::bad_alloc, hakozuna aborts
 *   startup_c_program module M    dlopen M RTLD_LOCAL (a C++ module: its
 *                                 libstdc++ stays out of the global scope) and
 *                                 run its probe_main()
 * stderr names the object that defines malloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int blocks(void) {
  enum { N = 64 };
  unsigned char* p[N];
  for (int i = 0; i < N; ++i) {
    size_t n = 16 + (size_t)i * 97;
    p[i] = i % 3 ? malloc(n) : calloc(n, 1);
    if (!p[i]) return 1;
    if (i % 3 == 0)
      for (size_t k = 0; k < n; ++k)
        if (p[i][k]) return 2;
    memset(p[i], i, n);
  }
  for (int i = 0; i < N; i += 2) {
    size_t n = 16 + (size_t)i * 97;
    unsigned char* q = realloc(p[i], 3 * n);
    if (!q) return 3;
    for (size_t k = 0; k < n; ++k)
      if (q[k] != (unsigned char)i) return 4;
    memset(q, i, 3 * n);
    p[i] = q;
  }
  for (int i = 0; i < N; ++i) {
    size_t n = (16 + (size_t)i * 97) * (i % 2 ? 1 : 3);
    for (size_t k = 0; k < n; ++k)
      if (p[i][k] != (unsigned char)i) return 5;
    free(p[i]);
  }
  return 0;
}

int main(int argc, char** argv) {
  Dl_info info;
  void* m = (void*)&malloc;
  fprintf(stderr, "probe: malloc in %s\n", dladdr(m, &info) && info.dli_fname ? info.dli_fname : "?");
  const char* mode = argc > 1 ? argv[1] : "blocks";
  volatile size_t huge = (size_t)1 << 62;
  if (!strcmp(mode, "blocks")) {
    int rc = blocks();
    puts(rc ? "blocks damaged" : "ok");
    return rc;
  }
  if (!strcmp(mode, "new-nothrow") || !strcmp(mode, "new")) {
    int nothrow = !strcmp(mode, "new-nothrow");
    void* fn = dlsym(RTLD_DEFAULT, nothrow ? "_ZnwmRKSt9nothrow_t" : "_Znwm");
    if (!fn) {
      puts("no operator new in the process");
      return 1;
    }
    char tag = 0; /* stands for std::nothrow (an empty struct, passed by reference) */
    void* p = nothrow ? ((void* (*)(size_t, const void*))fn)(huge, &tag) : ((void* (*)(size_t))fn)(huge);
    puts(p ? "a block (WRONG)" : "nullptr");
    return p != NULL;
  }
  if (!strcmp(mode, "module") && argc > 2) {
    void* h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "dlopen: %s\n", dlerror());
      return 1;
    }
    int (*probe_main)(void) = (int (*)(void))dlsym(h, "probe_main");
    return probe_main ? probe_main() : 1;
  }
  fprintf(stderr, "usage: %s [blocks | new-nothrow | new | module M.so]\n", argv[0]);
  return 2;
}
