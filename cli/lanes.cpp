// Finding the lane libraries: next to the command in a build tree, or in the
// install's library directory (the default lane as libhakozuna.so, the others
// as hakozuna/libhakozuna-<lane>.so), found from where the command itself is,
// so an install (or a dpkg -x) works from any prefix.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <sstream>

#include "cli.h"

namespace cli {
namespace {

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool exists(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

std::string file_name(const std::string& lane) {
  return lane == HZ_CLI_DEFAULT_LANE ? "libhakozuna.so" : "libhakozuna-" + lane + ".so";
}

}  // namespace

std::vector<std::string> lanes() {
  std::vector<std::string> out{HZ_CLI_DEFAULT_LANE};
  std::istringstream in(HZ_CLI_LANES);
  for (std::string l; std::getline(in, l, ',');)
    if (!l.empty() && l != HZ_CLI_DEFAULT_LANE) out.push_back(l);
  return out;
}

std::string lane_library(const std::string& lane, std::string* why) {
  bool known = false;
  for (const std::string& l : lanes()) known |= l == lane;
  if (!known) {
    *why = "no lane '" + lane + "' (built lanes:";
    for (const std::string& l : lanes()) *why += " " + l;
    *why += ")";
    return "";
  }
  const std::string dir = self_dir(), name = file_name(lane);
  const std::string dirs[] = {dir, dir + "/" HZ_CLI_REL_LIBDIR, dir + "/" HZ_CLI_REL_LIBDIR "/hakozuna"};
  for (const std::string& d : dirs) {
    char real[PATH_MAX];
    // The directory without "bin/../": the path shows in /proc/PID/maps.
    if (exists(d + "/" + name) && realpath(d.c_str(), real)) return std::string(real) + "/" + name;
  }
  *why = "the library of lane '" + lane + "' (" + name + ") is neither next to " + dir +
         " nor in " + dir + "/" HZ_CLI_REL_LIBDIR;
  return "";
}

std::string compose_preload(const std::string& lib, const char* existing) {
  std::string out = lib;
  if (!existing) return out;
  std::string cur;
  // Any hakozuna library already there goes: a nested `hakozuna run --lane X`
  // replaces the lane rather than loading two allocators.
  auto flush = [&] {
    size_t slash = cur.rfind('/');
    std::string base = slash == std::string::npos ? cur : cur.substr(slash + 1);
    if (!cur.empty() && base.rfind("libhakozuna", 0) != 0) out += ":" + cur;
    cur.clear();
  };
  for (const char* s = existing; *s; ++s) {
    if (*s == ':' || *s == ' ') flush();
    else cur += *s;
  }
  flush();
  return out;
}

std::string data_file(const std::string& name) {
  const std::string dir = self_dir();
  const std::string candidates[] = {dir + "/" HZ_CLI_REL_DATADIR "/" + name, HZ_CLI_SOURCE_DIR "/" + name};
  for (const std::string& c : candidates)
    if (exists(c)) return c;
  return "";
}

}  // namespace cli
