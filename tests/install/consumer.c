/* Installed-package consumer: uses the prefixed API and the standard malloc,
 * and checks the standard malloc is hakozuna's (same usable size as
 * hz_usable_size, and malloc lives in libhakozuna). Prints "OK <how>". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <hakozuna.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "?";
  void* a = hz_malloc(100);
  void* b = malloc(1000);
  void* c = hz_calloc(10, 10);
  if (!a || !b || !c) {
    fprintf(stderr, "allocation failed\n");
    return 1;
  }
  memset(a, 1, 100);
  memset(b, 2, 1000);
  if (hz_usable_size(a) < 100 || hz_usable_size(b) < 1000 ||
      malloc_usable_size(b) != hz_usable_size(b)) {
    fprintf(stderr, "malloc is not hakozuna's: usable %zu vs %zu\n", malloc_usable_size(b),
            hz_usable_size(b));
    return 1;
  }
  Dl_info info;
  if (!dladdr((void*)&malloc, &info) || !info.dli_fname || !strstr(info.dli_fname, "libhakozuna")) {
    fprintf(stderr, "malloc resolves into %s, not libhakozuna\n",
            info.dli_fname ? info.dli_fname : "?");
    return 1;
  }
  b = realloc(b, 100000);
  if (!b) return 1;
  hz_free(a);
  free(b);
  free(c);
  printf("OK %s\n", how);
  return 0;
}
