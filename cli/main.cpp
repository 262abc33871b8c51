// hakozuna: run a program on the allocator, profile its allocations, list
// the options. See `hakozuna --help` and man hakozuna(1).
#include <stdio.h>

#include <string>
#include <vector>

#include "cli.h"
#include "hakozuna.h"

namespace {

void help() {
  printf(
      "usage: hakozuna run [--lane NAME] [--stats] [--] PROG ARGS...\n"
      "       hakozuna profile [--lane NAME] [-o report.html|.svg|.png] [--] PROG ARGS...\n"
      "       hakozuna options\n"
      "       hakozuna --version | --help\n"
      "\n"
      "  run      runs PROG with hakozuna preloaded (LD_PRELOAD, kept in front of\n"
      "           an LD_PRELOAD already set); its exit status and signals are PROG's.\n"
      "           --stats prints the one-line counters at exit (HAKOZUNA_STATS=1)\n"
      "  profile  runs PROG with counting on and prints its allocation profile on\n"
      "           stderr at the end: remote frees, sizes, peak live vs mapped\n"
      "           memory, threads, cache and purge activity, and a reading;\n"
      "           -o also plots the histograms (.png needs python3-matplotlib)\n"
      "  options  every HAKOZUNA_* variable: default, value now, meaning\n"
      "\n"
      "lanes (build profiles), --lane NAME:");
  for (const std::string& l : cli::lanes()) printf(" %s", l.c_str());
  printf(" (default %s)\n", cli::lanes().front().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    help();
    return 2;
  }
  const std::string cmd = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "run") return cli::run_main(rest);
  if (cmd == "profile") return cli::profile_main(rest);
  if (cmd == "options") return cli::options_main(rest);
  if (cmd == "--version" || cmd == "-V") {
    printf("hakozuna %s\n", HAKOZUNA_VERSION_STRING);
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    help();
    return 0;
  }
  fprintf(stderr, "hakozuna: unknown command '%s' (try hakozuna --help)\n", cmd.c_str());
  return 2;
}
