// The profile a process wrote at exit (src/stats/profile.cpp writes it), read
// back and turned into the report `hakozuna profile` prints.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cli {

struct ProfileRow {
  bool span;      // a page-span bucket (size: its lower bound), else a size class
  uint64_t size;  // block size of the class
  uint64_t alloc, free, remote;
  int64_t at_peak, at_exit;  // live bytes
};

struct Profile {
  uint64_t pid = 0, ppid = 0, elapsed_ms = 0;
  std::map<std::string, uint64_t> stat;  // the one-line report's counters
  std::map<std::string, uint64_t> value; // mapped, mapped_peak, live_peak, trim_calls, ...
  std::vector<ProfileRow> rows;
  uint64_t threads = 0, threads_max = 0, threads_alive = 0;
  uint64_t life[7] = {};  // ended threads by lifetime: < 1 ms, < 10 ms, ... < 100 s, longer
  bool complete = false;  // the file ended with "end"
};

bool read_profile(const std::string& path, Profile* out);

// Sizes grouped for reading: small classes by power of two, page spans by
// their bucket.
struct Bucket {
  std::string label;
  uint64_t upper;  // largest block size in it
  uint64_t alloc = 0, free = 0, remote = 0;
  int64_t at_peak = 0;
};
std::vector<Bucket> buckets(const Profile& p);

// The whole report: figures, histogram, activity and the reading. lanes: the
// lanes the command can run (for the advice).
std::string format_report(const Profile& p, const std::string& program, const std::string& lane,
                          const std::vector<std::string>& lanes);
// The one-paragraph reading alone.
std::string reading(const Profile& p, const std::string& lane, const std::vector<std::string>& lanes);

}  // namespace cli
