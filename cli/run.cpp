// hakozuna run: the program replaces the command (exec), so its exit status
// and every signal sent to it are its own, with nothing in between.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "cli.h"

namespace cli {
namespace {

// The file execvp would run for prog.
std::string resolve(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return prog;
  const char* path = getenv("PATH");
  std::istringstream in(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(in, dir, ':');) {
    std::string p = (dir.empty() ? "." : dir) + "/" + prog;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return prog;
}

}  // namespace

std::string sanitizer_of(const std::string& prog) {
  static const char* const kRuntimes[][2] = {{"__asan_init", "AddressSanitizer"},
                                             {"__tsan_init", "ThreadSanitizer"},
                                             {"__msan_init", "MemorySanitizer"},
                                             {"__hwasan_init", "HWAddressSanitizer"}};
  int fd = open(resolve(prog).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st;
  void* m = fstat(fd, &st) == 0 && st.st_size > 0 ? mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  close(fd);
  if (m == MAP_FAILED) return "";
  // The runtime's entry symbol, linked in or imported: one pass over the file
  // for their common tail, then the name before it.
  std::string found;
  const char* begin = static_cast<const char*>(m);
  const char* end = begin + st.st_size;
  for (const char* at = begin; found.empty() && (at = static_cast<const char*>(memmem(at, end - at, "san_init", 8)));
       at += 8) {
    for (const auto& r : kRuntimes) {
      size_t n = strlen(r[0]);
      if (at + 8 - begin >= static_cast<long>(n) && memcmp(at + 8 - n, r[0], n) == 0) found = r[1];
    }
  }
  munmap(m, st.st_size);
  return found;
}

bool parse_program_args(const char* sub, const std::vector<std::string>& args, bool profile, ProgramArgs* out) {
  out->lane = lanes().front();
  size_t i = 0;
  auto value = [&](const std::string& opt) -> const std::string* {
    if (i + 1 < args.size()) return &args[++i];
    fprintf(stderr, "hakozuna %s: %s needs a value\n", sub, opt.c_str());
    return nullptr;
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.empty() || a[0] != '-') break;  // the program
    if (a == "--lane") {
      const std::string* v = value(a);
      if (!v) return false;
      out->lane = *v;
    } else if (a == "--stats" && !profile) {
      out->stats = true;
    } else if (a == "-o" && profile) {
      const std::string* v = value(a);
      if (!v) return false;
      out->out = *v;
    } else {
      fprintf(stderr, "hakozuna %s: unknown option '%s' (try hakozuna --help)\n", sub, a.c_str());
      return false;
    }
  }
  out->argv.assign(args.begin() + static_cast<long>(i), args.end());
  if (out->argv.empty()) {
    fprintf(stderr, "hakozuna %s: no program given (hakozuna %s [options] -- PROG ARGS...)\n", sub, sub);
    return false;
  }
  return true;
}

bool prepare_environment(const ProgramArgs& a) {
  std::string why;
  std::string lib = lane_library(a.lane, &why);
  if (lib.empty()) {
    fprintf(stderr, "hakozuna: %s\n", why.c_str());
    return false;
  }
  setenv("LD_PRELOAD", compose_preload(lib, getenv("LD_PRELOAD")).c_str(), 1);
  if (a.stats) setenv("HAKOZUNA_STATS", "1", 1);
  return true;
}

void exec_program(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (const std::string& s : argv) v.push_back(const_cast<char*>(s.c_str()));
  v.push_back(nullptr);
  execvp(v[0], v.data());
  int err = errno;
  fprintf(stderr, "hakozuna: cannot run %s: %s\n", v[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

int run_main(const std::vector<std::string>& args) {
  ProgramArgs a;
  if (!parse_program_args("run", args, false, &a)) return 2;
  // A sanitizer's runtime must own malloc (it refuses to start otherwise).
  std::string san = sanitizer_of(a.argv[0]);
  if (!san.empty()) {
    fprintf(stderr,
            "hakozuna: %s is built with %s, which needs its own allocator: running it without hakozuna "
            "(to test hakozuna itself under a sanitizer, build it with -DHAKOZUNA_SANITIZE)\n",
            a.argv[0].c_str(), san.c_str());
    exec_program(a.argv);
  }
  if (!prepare_environment(a)) return 2;
  exec_program(a.argv);
}

}  // namespace cli
