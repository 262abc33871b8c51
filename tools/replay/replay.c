// Replays a trace2bin.py file: every call in order, each block written whole
// (memset), then prints the peak RSS ("hwm KiB"). Its own memory comes from
// mmap, so the allocator under test sees the trace's calls only.
// STEP=N: RSS every N calls on stderr.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct __attribute__((packed)) op {
  uint32_t kind, slot;
  uint64_t size;
  uint32_t new_slot;
};

static long status_kib(const char* key) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char* p = strstr(buf, key);
  return p ? atol(p + strlen(key) + 1) : -1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TRACE.bin\n", argv[0]);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 8) {
    perror(argv[1]);
    return 2;
  }
  const uint32_t* head = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (head == MAP_FAILED) return 2;
  const uint32_t nops = head[0], nslots = head[1];
  if ((uint64_t)st.st_size < 8 + (uint64_t)nops * sizeof(struct op)) {
    fprintf(stderr, "%s: truncated\n", argv[1]);
    return 2;
  }
  const struct op* ops = (const struct op*)(head + 2);
  void** slot = mmap(NULL, (nslots + 1) * sizeof(void*), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (slot == MAP_FAILED) return 2;
  const long step = getenv("STEP") ? atol(getenv("STEP")) : 0;
  for (uint32_t i = 0; i < nops; ++i) {
    const struct op* o = &ops[i];
    if (step && i % step == 0) fprintf(stderr, "%u %ld\n", i, status_kib("VmRSS:"));
    if (o->kind == 1) {
      free(slot[o->slot]);
      continue;
    }
    void* old = o->kind == 2 && o->slot != 0xffffffffu ? slot[o->slot] : NULL;
    void* p = o->kind == 0 ? malloc(o->size) : realloc(old, o->size);
    if (!p) {
      fprintf(stderr, "call %u: allocation of %llu bytes failed\n", i, (unsigned long long)o->size);
      return 1;
    }
    memset(p, 1, o->size);
    slot[o->kind == 0 ? o->slot : o->new_slot] = p;
  }
  printf("hwm %ld\n", status_kib("VmHWM:"));
  return 0;
}
