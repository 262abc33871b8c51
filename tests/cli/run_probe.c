/* For the hakozuna command's tests: prints where malloc comes from and whether
 * the extra preload library is loaded, then exits with the status given, or
 * waits for a signal. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  Dl_info info;
  void* p = malloc(64);
  printf("malloc=%s\n", dladdr((void*)&malloc, &info) && info.dli_fname ? info.dli_fname : "?");
  printf("extra=%s\n", dlsym(RTLD_DEFAULT, "hz_cli_extra_marker") ? "loaded" : "absent");
  free(p);
  fflush(stdout);
  if (argc > 1 && argv[1][0] == 'w') { /* wait: "ready" on stdout, then a signal ends us */
    puts("ready");
    fflush(stdout);
    for (;;) pause();
  }
  return argc > 1 ? atoi(argv[1]) : 0;
}
