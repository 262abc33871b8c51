// The hakozuna command: one function per subcommand, and what they share.
#pragma once
#include <string>
#include <vector>

namespace cli {

// Subcommands; args are what follows the subcommand's name. Each returns the
// command's exit status (run and profile: the program's).
int run_main(const std::vector<std::string>& args);
int profile_main(const std::vector<std::string>& args);
int options_main(const std::vector<std::string>& args);

// ---- lanes.cpp: the libraries the command preloads ----
// Every lane this build made a library for, the default lane first.
std::vector<std::string> lanes();
// The library of a lane, installed or in the build tree; "" with *why set
// when there is none.
std::string lane_library(const std::string& lane, std::string* why);
// LD_PRELOAD with lib first (its malloc must win), then the entries of
// existing (colon- or space-separated) except hakozuna libraries.
std::string compose_preload(const std::string& lib, const char* existing);
// Where the installed (or source-tree) data files are: the plot script.
std::string data_file(const std::string& name);

// ---- shared argument handling ----
// Parses "[--lane NAME] [--stats] [--] PROG ARGS..." (run) or "[--lane NAME]
// [-o FILE] [--] PROG ARGS..." (profile). Prints the error and returns false.
struct ProgramArgs {
  std::string lane;
  bool stats = false;
  std::string out;
  std::vector<std::string> argv;  // PROG ARGS...
};
bool parse_program_args(const char* sub, const std::vector<std::string>& args, bool profile, ProgramArgs* out);
// Sets LD_PRELOAD (and HAKOZUNA_STATS) in this process's environment for the
// lane; false (after printing why) when its library is missing.
bool prepare_environment(const ProgramArgs& a);
// The sanitizer whose runtime prog carries ("AddressSanitizer", ...), or "".
std::string sanitizer_of(const std::string& prog);
// execvp, or exit 127 (not found) / 126 (not executable) as the shells do.
[[noreturn]] void exec_program(const std::vector<std::string>& argv);

}  // namespace cli
