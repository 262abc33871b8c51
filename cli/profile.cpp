// hakozuna profile: runs the program as a child with HAKOZUNA_PROFILE set
// (each process of it writes <dir>/profile.<pid> at exit), then prints the
// report of the process that allocated most, and exits as the program did.
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "cli.h"
#include "report.h"

namespace cli {
namespace {

volatile sig_atomic_t g_child = 0;

// Signals sent to the command (kill, a supervisor) go on to the program.
// Those the terminal sends reach the whole process group, the program
// included, so they are not sent twice.
void forward(int sig, siginfo_t* info, void*) {
  if (g_child > 0 && info->si_code != SI_KERNEL) kill(g_child, sig);
}

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

// Waits for the program; returns its wait status.
int run_child(const std::vector<std::string>& argv) {
  struct sigaction sa {};
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigset_t block, old;
  sigemptyset(&block);
  for (int s : kForwarded) sigaddset(&block, s);
  sigprocmask(SIG_BLOCK, &block, &old);  // no signal between fork and the handlers
  pid_t pid = fork();
  if (pid < 0) {
    perror("hakozuna profile: fork");
    return -1;
  }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    exec_program(argv);
  }
  g_child = pid;
  for (int s : kForwarded) sigaction(s, &sa, nullptr);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  for (int s : kForwarded) signal(s, SIG_DFL);
  return status;
}

// Exits as the program did: the same code, or the same signal.
[[noreturn]] void exit_like(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit none {};
    setrlimit(RLIMIT_CORE, &none);  // the program dumped its core already, if any
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, nullptr);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

std::vector<Profile> read_all(const std::string& dir) {
  std::vector<Profile> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (strncmp(e->d_name, "profile.", 8) != 0) continue;
      Profile p;
      if (read_profile(dir + "/" + e->d_name, &p)) out.push_back(std::move(p));
    }
    closedir(d);
  }
  return out;
}

void remove_dir(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') unlink((dir + "/" + e->d_name).c_str());
    closedir(d);
  }
  rmdir(dir.c_str());
}

// The histograms as a table for the plot script, and the script run on it.
bool plot(const Profile& p, const std::string& report, const std::string& dir, const std::string& out) {
  std::string script = data_file("profile_plot.py");
  if (script.empty()) {
    fprintf(stderr, "hakozuna profile: profile_plot.py is not installed: no plot\n");
    return false;
  }
  {
    std::ofstream t(dir + "/histogram.tsv");
    t << "size\tallocations\tfrees\tremote_frees\tlive_at_peak\n";
    for (const Bucket& b : buckets(p))
      t << b.label << "\t" << b.alloc << "\t" << b.free << "\t" << b.remote << "\t" << std::max<int64_t>(b.at_peak, 0)
        << "\n";
    std::ofstream r(dir + "/report.txt");
    r << report;
  }
  // Debian's python3 first: it is the one python3-matplotlib serves.
  const char* python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("LD_PRELOAD");
    unsetenv("HAKOZUNA_PROFILE");
    const std::string tsv = dir + "/histogram.tsv", txt = dir + "/report.txt";
    execlp(python, python, script.c_str(), tsv.c_str(), txt.c_str(), out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "hakozuna profile: the plot failed (%s %s)\n", python, script.c_str());
    return false;
  }
  fprintf(stderr, "hakozuna profile: histograms written to %s\n", out.c_str());
  return true;
}

}  // namespace

int profile_main(const std::vector<std::string>& args) {
  ProgramArgs a;
  if (!parse_program_args("profile", args, true, &a)) return 2;
  const std::string& out = a.out;
  if (!out.empty()) {
    size_t dot = out.rfind('.');
    std::string ext = dot == std::string::npos ? "" : out.substr(dot);
    if (ext != ".html" && ext != ".svg" && ext != ".png") {
      fprintf(stderr, "hakozuna profile: -o %s: the report is written as .html, .svg or .png\n", out.c_str());
      return 2;
    }
  }
  std::string san = sanitizer_of(a.argv[0]);
  if (!san.empty()) {
    fprintf(stderr, "hakozuna profile: %s is built with %s, which needs its own allocator: nothing to profile\n",
            a.argv[0].c_str(), san.c_str());
    return 2;
  }
  if (!prepare_environment(a)) return 2;
  const char* tmp = getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/hakozuna-profile.XXXXXX";
  if (!mkdtemp(dir.data())) {
    perror("hakozuna profile: mkdtemp");
    return 2;
  }
  setenv("HAKOZUNA_PROFILE", (dir + "/profile").c_str(), 1);
  int status = run_child(a.argv);
  if (status == -1) {
    remove_dir(dir);
    return 2;
  }

  std::vector<Profile> all = read_all(dir);
  if (all.empty()) {
    fprintf(stderr,
            "hakozuna profile: %s wrote no profile (it ended without running its exit handlers, "
            "or does not load hakozuna: statically linked, setuid, or it cleared LD_PRELOAD)\n",
            a.argv[0].c_str());
  } else {
    // The process that allocated most: a shell script's work is in its children.
    auto allocs = [](const Profile& p) { return p.stat.count("alloc") ? p.stat.at("alloc") : 0; };
    auto main = std::max_element(all.begin(), all.end(),
                                 [&](const Profile& x, const Profile& y) { return allocs(x) < allocs(y); });
    std::string report = format_report(*main, a.argv[0], a.lane, lanes());
    if (all.size() > 1) {
      report += "(";
      report += std::to_string(all.size() - 1);
      report += " other process(es) of the program wrote a profile too; this is the one that allocated most)\n";
    }
    if (!main->complete) report += "(the profile file was cut short)\n";
    fprintf(stderr, "\n%s", report.c_str());
    if (!out.empty()) plot(*main, report, dir, out);
  }
  remove_dir(dir);
  exit_like(status);
}

}  // namespace cli
