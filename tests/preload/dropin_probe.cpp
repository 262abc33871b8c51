// Programs that real users write and allocators get wrong (issue 9). Each case
// is a subcommand; it prints "<case> ok" and exits 0 when the allocator
// behaved. Built twice: plain (run under LD_PRELOAD) and linked with
// libhakozuna.a. Uses only the process's malloc/free/new/delete.
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  fprintf(stderr, "dropin_probe: %s\n", what);
  exit(1);
}

long rss_kib() {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (!f || fscanf(f, "%ld %ld", &size, &res) != 2) die("cannot read /proc/self/statm");
  fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int count_tasks(const char* comm_wanted, int* matched) {
  DIR* d = opendir("/proc/self/task");
  if (!d) die("cannot open /proc/self/task");
  int n = 0;
  *matched = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ++n;
    char path[64], comm[64] = {};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    if (FILE* f = fopen(path, "r")) {
      if (fgets(comm, sizeof comm, f) && strncmp(comm, comm_wanted, strlen(comm_wanted)) == 0) ++*matched;
      fclose(f);
    }
  }
  closedir(d);
  return n;
}

// Frees that leave memory idle (flushes, large blocks: big) from several
// threads: what starts an allocator's background work.
void churn(bool big = true) {
  std::vector<void*> v;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 5000; ++i) v.push_back(malloc(64 + i % 512));
    for (void* p : v) free(p);
    v.clear();
    if (!big) continue;
    void* b = malloc(8 << 20);
    memset(b, 1, 4096);
    free(b);
  }
}

// 1. A program blocks SIGUSR1 in every thread it runs and takes it with
// sigwait. A thread the allocator started must not receive it (it would die
// of the default action).
int case_sigwait() {
  std::atomic<int> blocked{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t)
    workers.emplace_back([&] {
      churn();  // threads exist now: a background purger may start here
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGUSR1);
      pthread_sigmask(SIG_BLOCK, &s, nullptr);
      blocked.fetch_add(1);
      while (!go.load()) usleep(1000);
      churn();
    });
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  while (blocked.load() < 3) usleep(1000);
  usleep(300 * 1000);  // a few purge ticks
  for (int i = 0; i < 20; ++i) {
    kill(getpid(), SIGUSR1);
    int sig = 0;
    if (sigwait(&s, &sig) != 0 || sig != SIGUSR1) die("sigwait did not return SIGUSR1");
  }
  go.store(true);
  for (auto& w : workers) w.join();
  printf("sigwait ok\n");
  return 0;
}

// The allocator's own threads are named hz-*; after fork the child has none
// until it needs one: small blocks alone do not (a single-threaded program
// keeps glibc's single-threaded paths), large blocks kept dirty past 32 MiB
// do (only the decay returns them), and then one.
int case_threads() {
  std::thread t([] { churn(); });
  t.join();
  churn();
  usleep(200 * 1000);
  int hz = 0;
  count_tasks("hz-", &hz);
  bool preloaded = getenv("DROPIN_EXPECT_PURGER") != nullptr;
  if (preloaded && hz != 1) die("expected exactly one allocator thread named hz-*");
  pid_t pid = fork();
  if (pid == 0) {
    churn(false);
    usleep(200 * 1000);
    int m = 0;
    int n = count_tasks("hz-", &m);
    if (n != 1 || m != 0) _exit(3);
    churn();
    usleep(200 * 1000);
    n = count_tasks("hz-", &m);
    _exit(!preloaded || (n == 1 + m && m <= 1) ? 0 : 4);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) == 3) die("the child of fork has threads it did not start");
  if (WEXITSTATUS(st) != 0) die("the child of fork started more than one allocator thread");
  printf("threads ok\n");
  return 0;
}

// 5. Destructor rounds: a pthread key destructor that allocates and re-arms
// its key in every round glibc runs (4), after the allocator's own teardown;
// C++ thread_local destructors that allocate and free. RSS must stay bounded.
pthread_key_t g_key;
std::atomic<long> g_rounds{0};

void key_dtor(void* p) {
  free(p);
  g_rounds.fetch_add(1, std::memory_order_relaxed);
  void* q = malloc(200);
  memset(q, 7, 200);
  char* scratch = static_cast<char*>(malloc(4000));  // a free from the destructor too
  scratch[0] = 1;
  free(scratch);
  pthread_setspecific(g_key, q);  // re-arm: the next round frees it
}

struct TlsObj {
  std::vector<int>* v = nullptr;
  ~TlsObj() {
    delete v;
    void* p = malloc(300);
    memset(p, 3, 300);
    free(p);
  }
};
thread_local TlsObj t_obj;

int case_keyrounds(int nthreads) {
  if (pthread_key_create(&g_key, key_dtor) != 0) die("pthread_key_create");
  long base = rss_kib();
  for (int i = 0; i < nthreads; i += 4) {
    std::thread ts[4];
    for (auto& t : ts)
      t = std::thread([] {
        t_obj.v = new std::vector<int>(100, 1);
        void* p = malloc(100);
        pthread_setspecific(g_key, p);
        void* junk[64];
        for (auto& j : junk) j = malloc(1000);
        for (auto& j : junk) free(j);
      });
    for (auto& t : ts) t.join();
  }
  long grown = rss_kib() - base;
  printf("keyrounds: %d threads, %ld destructor calls, RSS grew %ld KiB\n", nthreads, g_rounds.load(), grown);
  if (g_rounds.load() < 4L * nthreads) die("the key destructor did not run 4 rounds per thread");
  if (grown > 48 * 1024) die("RSS grew by more than 48 MiB: thread caches recreated after teardown leak");
  printf("keyrounds ok\n");
  return 0;
}

// 5b. A thread whose first allocation comes in the last round of key
// destructors: the cache set up then is never torn down by a destructor.
pthread_key_t g_late_key;
void late_dtor(void* v) {
  long round = reinterpret_cast<long>(v);
  if (round < 4) {
    pthread_setspecific(g_late_key, reinterpret_cast<void*>(round + 1));
    return;
  }
  void* volatile p = malloc(100);  // the thread's first malloc, in round 4
  free(p);
}

int case_keyfirst(int nthreads) {
  void* volatile warm = malloc(10);  // the allocator's key gets the lower index
  free(warm);
  if (pthread_key_create(&g_late_key, late_dtor) != 0) die("pthread_key_create");
  long base = rss_kib();
  for (int i = 0; i < nthreads; ++i) {
    pthread_t t;
    pthread_create(&t, nullptr, [](void*) -> void* {
      pthread_setspecific(g_late_key, reinterpret_cast<void*>(1L));
      return nullptr;
    }, nullptr);
    pthread_join(t, nullptr);
  }
  long grown = rss_kib() - base;
  printf("keyfirst: %d threads, RSS grew %ld KiB\n", nthreads, grown);
  if (grown > 32 * 1024) die("RSS grew by more than 32 MiB: caches set up in the last destructor round leak");
  printf("keyfirst ok\n");
  return 0;
}

// 6. A double free of a small block (a bug in the program) must not hang the
// thread at exit: the allocator reports corruption and aborts.
int case_double_free_exit() {
  std::thread t([] {
    void* a = malloc(48);
    void* b = malloc(48);
    free(a);
    free(b);
    free(a);  // a, b, a
  });
  t.join();
  std::thread t2([] {
    void* a = malloc(48);
    free(a);
    free(a);  // immediate
  });
  t2.join();
  printf("double free went unnoticed\n");
  return 0;
}

// 7. A single-threaded program whose SIGALRM handler forks while the main
// thread is inside malloc (slow paths that take locks: large blocks, flushes).
std::atomic<int> g_forks{0};
// One-shot timers re-armed after each fork: a fork slower than the interval
// (the hardened build's many mappings: 1-10 ms) would otherwise leave the
// main loop no time between the handlers.
std::atomic<bool> g_rearm{false};
const struct itimerval kEvery500us = {{0, 500}, {0, 500}}, kOnce500us = {{0, 0}, {0, 500}};
void on_alarm(int) {
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid > 0) g_forks.fetch_add(1);
  if (g_rearm.load()) setitimer(ITIMER_REAL, &kOnce500us, nullptr);
  errno = saved;
}

int case_fork_in_signal(int wanted, const char* name = "fork_in_signal") {
  struct sigaction sa = {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  setitimer(ITIMER_REAL, g_rearm.load() ? &kOnce500us : &kEvery500us, nullptr);
  unsigned seed = 1;
  void* keep[256] = {};
  while (g_forks.load() < wanted) {
    for (int i = 0; i < 2000; ++i) {
      seed = seed * 1103515245 + 12345;
      unsigned slot = (seed >> 8) & 255;
      free(keep[slot]);
      size_t size = (seed >> 16) % 8 == 0 ? (size_t{1} << 20) + (seed >> 20) % 65536 : 16 + (seed >> 12) % 4096;
      keep[slot] = malloc(size);
      memset(keep[slot], 1, 16);
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  g_rearm.store(false);  // first: a handler still to run must not arm it again
  struct itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  for (void* p : keep) free(p);
  while (waitpid(-1, nullptr, 0) > 0) {
  }
  printf("%s ok\n", name);
  return 0;
}

// 8. The same once our purger runs beside the program (it starts when 32 MiB
// of large blocks are kept dirty at free: only the decay returns them): the process
// has two threads, but the program still has one, and may still fork from
// its handler (run with a short purge delay, so that the purger is at work
// throughout). It hung with the fork locks taken beside the purger.
int case_fork_in_signal_purger(int wanted) {
  void* big = malloc(64 << 20);
  memset(big, 2, 64 << 20);
  free(big);
  usleep(100 * 1000);
  int hz = 0;
  count_tasks("hz-", &hz);
  if (getenv("DROPIN_EXPECT_PURGER") && hz != 1) die("expected the purger (hz-purge) to run");
  g_rearm.store(true);
  return case_fork_in_signal(wanted, "fork_in_signal_purger");
}

}  // namespace

int main(int argc, char** argv) {
  const char* c = argc > 1 ? argv[1] : "";
  int n = argc > 2 ? atoi(argv[2]) : 0;
  if (!strcmp(c, "sigwait")) return case_sigwait();
  if (!strcmp(c, "threads")) return case_threads();
  if (!strcmp(c, "keyrounds")) return case_keyrounds(n ? n : 20000);
  if (!strcmp(c, "keyfirst")) return case_keyfirst(n ? n : 20000);
  if (!strcmp(c, "double_free_exit")) return case_double_free_exit();
  if (!strcmp(c, "fork_in_signal")) return case_fork_in_signal(n ? n : 2000);
  if (!strcmp(c, "fork_in_signal_purger")) return case_fork_in_signal_purger(n ? n : 2000);
  fprintf(stderr, "usage: dropin_probe sigwait|threads|keyrounds [N]|keyfirst [N]|double_free_exit|fork_in_signal [N]|fork_in_signal_purger [N]\n");
  return 2;
}
