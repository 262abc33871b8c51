/* startup: what an allocator adds to the start-up of every process.
 *
 *   startup true   N   spawn /bin/true N times, one after the other
 *   startup malloc N   spawn this program N times as a tiny C program that
 *                      makes a few mallocs, fills and checks them, and frees
 *
 * The children inherit the environment, so a preloaded allocator (LD_PRELOAD)
 * is loaded into each of them. Reports runs per second as ops_per_sec (higher
 * is better), in the RESULT format of bench_common.h; peak_rss_kib is the
 * largest child's (the kernel counts the spawning process's RSS in it too).
 *
 * Validation: after timing, this process checks the allocator with a few
 * thousand live blocks, each holding its own index (two live blocks sharing
 * memory break an index); a malloc child checks its blocks the same way and
 * that its malloc comes from the same object as ours. Any failure: "BENCH
 * FAIL" and exit 2. Written in C so that the children load no C++ runtime. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("BENCH FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  _exit(2);
}

static const char* malloc_object(void) {
  Dl_info info;
  void* m = (void*)&malloc;
  return dladdr(m, &info) && info.dli_fname ? info.dli_fname : "?";
}

/* count live blocks of 16..(16+spread) bytes, each filled with its index,
 * checked, then freed; returns 0 or the number of the first damaged block + 1
 * (its blocks are then not freed: they overlap). */
static size_t check_blocks(size_t count, size_t spread) {
  uint32_t** b = calloc(count, sizeof *b);
  if (!b) die("calloc of %zu pointers failed", count);
  for (size_t i = 0; i < count; ++i) {
    size_t words = (16 + (i * 37) % (spread + 1)) / 4;
    b[i] = malloc(words * 4);
    if (!b[i]) die("malloc(%zu) failed", words * 4);
    b[i][0] = (uint32_t)words;
    for (size_t w = 1; w < words; ++w) b[i][w] = (uint32_t)i;
  }
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t words = (16 + (i * 37) % (spread + 1)) / 4;
    if (!bad && b[i][0] != words) bad = i + 1;
    for (size_t w = 1; w < words && !bad; ++w)
      if (b[i][w] != (uint32_t)i) bad = i + 1;
  }
  if (bad) return bad;
  for (size_t i = 0; i < count; ++i) free(b[i]);
  free(b);
  return 0;
}

/* The tiny program: a few blocks, checked; the allocator must be the parent's. */
static int child(const char* want) {
  if (check_blocks(24, 4096)) return 3;
  if (strcmp(malloc_object(), want) != 0) return 4;
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc == 3 && !strcmp(argv[1], "child")) return child(argv[2]);
  if (argc != 3 || (strcmp(argv[1], "true") && strcmp(argv[1], "malloc")))
    die("usage: %s true|malloc RUNS", argv[0]);
  char* end;
  long runs = strtol(argv[2], &end, 10);
  if (*end || runs < 1) die("bad run count '%s'", argv[2]);

  int is_true = !strcmp(argv[1], "true");
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) die("readlink /proc/self/exe failed");
  self[n] = '\0';
  const char* obj = malloc_object();
  char* child_argv[] = {is_true ? "/bin/true" : self, "child", (char*)obj, NULL};
  if (is_true) child_argv[1] = NULL;

  double t0 = now();
  for (long r = 0; r < runs; ++r) {
    pid_t pid;
    int err = posix_spawn(&pid, child_argv[0], NULL, NULL, child_argv, environ);
    if (err) die("posix_spawn %s: %s", child_argv[0], strerror(err));
    int status;
    if (waitpid(pid, &status, 0) != pid) die("waitpid failed");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      die("run %ld: %s %s (status 0x%x)", r, child_argv[0],
          WIFEXITED(status) && WEXITSTATUS(status) == 4 ? "has another malloc than ours" : "failed", status);
  }
  double secs = now() - t0;
  /* After the runs, so that the children's peak RSS does not include it. */
  size_t bad = check_blocks(5000, 240);
  if (bad) die("block %zu of 5000 live blocks was overwritten by another", bad - 1);

  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  printf("RESULT name=startup_%s ops_per_sec=%.1f seconds=%.4f ops=%ld peak_rss_kib=%ld us_per_run=%.1f\n",
         argv[1], runs / secs, secs, runs, ru.ru_maxrss, secs / runs * 1e6);
  return 0;
}
