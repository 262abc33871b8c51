// Heap-misuse suite: the harness shared by misuse.c (C cases) and
// misuse_cxx.cpp (C++ cases). Each program holds a table of named cases; the
// runner (tools/misuse.sh) lists them with `--list` and runs one per process
// under LD_PRELOAD of each allocator.
//
// Verdicts. A case either dies, or prints one line on stdout and exits 0:
//   "CAUGHT <why>"      the allocator did what the case asks for
//   "NOT CAUGHT <why>"  the misuse went through unnoticed
//   "SETUP FAILED ..."  (exit 2) the case could not run; counts as an error
// Mode "signal" (corruption cases): death by a signal before the verdict
// line means caught. After the bad operation the case frees and allocates a
// little more ("churn") to give the allocator a chance to notice, then prints
// NOT CAUGHT. Mode "clean" (properties such as impossible sizes or address
// reuse): only a CAUGHT line counts; a crash there is a failure.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { SIG = 0, CLEAN = 1 };

typedef struct mcase {
  const char* name;
  const char* category;
  int mode;  // SIG or CLEAN
  void (*run)(const struct mcase*);
  size_t n;  // block size
  size_t k;  // case parameter (bytes past the end, an offset, a count, ...)
  int how;   // case variant
} mcase;

// Block sizes: a small class, a medium class (4-32 KiB), a large page span.
#define S ((size_t)48)
#define M ((size_t)16384)
#define L ((size_t)1 << 20)
#define MIB ((size_t)1 << 20)
#define SECRET 0x5EC2E7D00DFEED5EULL

// Hides a value from the optimiser, so that no misuse is folded away or
// diagnosed at compile time (the programs are built with -O1).
#ifdef __cplusplus
#define MISUSE_AUTO auto
#else
#define MISUSE_AUTO __auto_type
#endif
#define opaque(v)                                 \
  ({                                              \
    MISUSE_AUTO o_ = (v);                         \
    __asm__ volatile("" : "+r"(o_) : : "memory"); \
    o_;                                           \
  })

__attribute__((noreturn, format(printf, 2, 3), unused)) static void say(const char* verdict,
                                                                        const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s ", verdict);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  // exit(), not _exit(): an allocator that hangs or crashes at exit shows it.
  exit(strcmp(verdict, "SETUP FAILED") == 0 ? 2 : 0);
}

__attribute__((unused)) static void* need(void* p) {
  if (!p) say("SETUP FAILED", "allocation failed");
  return p;
}

// Scratch memory that no allocator owns.
__attribute__((unused)) static unsigned char* scratch(size_t n) {
  void* m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) say("SETUP FAILED", "mmap");
  return (unsigned char*)m;
}

// Flips every byte of [d, d+len): whatever was there (a canary, a header, a
// free-list link) changes, so no check can pass by luck.
__attribute__((unused)) static void xor_bytes(unsigned char* d, size_t len) {
  volatile unsigned char* v = opaque(d);
  for (size_t i = 0; i < len; i++) v[i] = v[i] ^ 0xA5;
}

// The same through one memcpy call, as a buffer overflow usually happens.
__attribute__((unused)) static void xor_memcpy(unsigned char* d, size_t len) {
  unsigned char* src = scratch(len);
  volatile unsigned char* v = opaque(d);
  for (size_t i = 0; i < len; i++) src[i] = v[i] ^ 0xA5;
  memcpy(opaque(d), src, len);
  munmap(src, len);
}

__attribute__((unused)) static void fill_secret(void* p, size_t n) {
  volatile uint64_t* w = (volatile uint64_t*)opaque(p);
  for (size_t i = 0; i < n / 8; i++) w[i] = SECRET;
}

__attribute__((unused)) static size_t count_secret(void* p, size_t n) {
  volatile uint64_t* w = (volatile uint64_t*)opaque(p);
  size_t c = 0;
  for (size_t i = 0; i < n / 8; i++) c += w[i] == SECRET;
  return c;
}

// After the bad operation: allocate and free a few rounds of the victim's size
// and of the other size ranges, so that checks made on malloc, on free or when
// a free list is popped get their chance. Two live blocks at one address are
// reported as such.
__attribute__((unused)) static void churn(size_t n) {
  size_t sizes[] = {n ? n : 16, 16, S, 100, M, L};
  void* v[16];
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (int round = 0; round < 2; round++) {
      for (int i = 0; i < 16; i++) {
        v[i] = malloc(sizes[s]);
        if (!v[i]) continue;
        *(volatile char*)v[i] = (char)i;
        for (int j = 0; j < i; j++)
          if (v[j] == v[i]) say("NOT CAUGHT", "malloc(%zu) handed out %p twice", sizes[s], v[i]);
      }
      for (int i = 0; i < 16; i++) free(v[i]);
    }
  }
}

__attribute__((noreturn, unused)) static void finish(size_t n) {
  churn(n);
  say("NOT CAUGHT", "the program ran to its end");
}

__attribute__((unused)) static int misuse_main(const mcase* cases, size_t count, int argc,
                                               char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);  // the verdict is out before any crash at exit
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < count; i++)
      printf("%s %s %s\n", cases[i].name, cases[i].category, cases[i].mode == SIG ? "signal" : "clean");
    return 0;
  }
  for (size_t i = 0; argc == 2 && i < count; i++) {
    if (strcmp(argv[1], cases[i].name) == 0) {
      cases[i].run(&cases[i]);
      say("SETUP FAILED", "case %s returned", cases[i].name);
    }
  }
  fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);
  return 2;
}
