// Tiny program run under LD_PRELOAD of libhakozuna_stats.so by stats.sh:
// 20 000 mallocs and frees on the main thread, plus 5 000 blocks allocated by
// the main thread and freed by another (remote frees). Prints "probe ok".
// With an argument FILE: also puts FILE, with dup2, on every descriptor of
// 100 or more that is open on what fd 2 is (the report's private copy of
// stderr), writes "fd N" there, and prints how many it took. With "own FILE"
// (run with stderr closed): opens FILE, which gets fd 2, and writes to it.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void* blocks[5000];

static void* remote_freer(void*) {
  for (void* p : blocks) free(p);
  return nullptr;
}

static int take_stderr_copies(const char* path) {
  struct stat err, st;
  if (fstat(2, &err) != 0) return 0;
  int file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), taken = 0;
  for (int fd = 100; fd < 4096; ++fd) {
    if (fstat(fd, &st) != 0 || st.st_dev != err.st_dev || st.st_ino != err.st_ino) continue;
    if (dup2(file, fd) != fd) continue;
    char line[32];
    int n = snprintf(line, sizeof line, "fd %d\n", fd);
    if (write(fd, line, n) == n) ++taken;
  }
  return taken;
}

int main(int argc, char** argv) {
  for (int i = 0; i < 20000; ++i) {
    void* p = malloc(16 + (i % 64) * 8);
    if (!p) return 2;
    memset(p, i, 16);
    asm volatile("" : : "g"(p) : "memory");
    free(p);
  }
  for (int i = 0; i < 5000; ++i) {
    blocks[i] = malloc(32 + (i % 16) * 16);
    if (!blocks[i]) return 3;
    memset(blocks[i], 1, 32);
  }
  pthread_t t;
  if (pthread_create(&t, nullptr, remote_freer, nullptr) != 0) return 4;
  pthread_join(t, nullptr);
  if (argc > 2 && strcmp(argv[1], "own") == 0) {
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "own data\n", 9) != 9) return 6;
    printf("own fd %d\n", fd);
  } else if (argc > 1) {
    printf("took %d\n", take_stderr_copies(argv[1]));
  }
  puts("probe ok");
  return 0;
}
