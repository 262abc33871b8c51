// Stamped blocks for the rlimit programs: a block's stamp is every byte
// below 16 bytes, else a word at the start of every page (short of the last
// 16 bytes) and the last byte; intact() checks the first `upto` bytes' worth.
#pragma once
#include <stdint.h>
#include <string.h>

static void stamp(unsigned char* p, size_t n, uint64_t v) {
  if (n < 16) {
    memset(p, (int)(v & 0xff), n);
    return;
  }
  for (size_t o = 0; o + 16 <= n; o += 4096) memcpy(p + o, &v, 8);
  p[n - 1] = (unsigned char)v;
}
static int intact(const unsigned char* p, size_t n, size_t upto, uint64_t v) {
  if (n < 16) {
    for (size_t i = 0; i < n && i < upto; ++i)
      if (p[i] != (unsigned char)v) return 0;
    return 1;
  }
  for (size_t o = 0; o + 16 <= n && o + 8 <= upto; o += 4096) {
    uint64_t w;
    memcpy(&w, p + o, 8);
    if (w != v) return 0;
  }
  return upto < n || p[n - 1] == (unsigned char)v;
}
