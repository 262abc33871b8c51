#include "report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace cli {
namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

// 1234567 -> "1,234,567"
std::string count(uint64_t v) {
  std::string d = std::to_string(v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

std::string bytes(double v) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt("%.0f B", v) : fmt(v < 10 ? "%.1f " : "%.0f ", v) + unit[u];
}

// Exact powers of two as "16 B", "4 KiB", "2 MiB".
std::string pow2(uint64_t v) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && v % 1024 == 0 && u < 4) v /= 1024, ++u;
  return std::to_string(v) + " " + unit[u];
}

std::string pct(uint64_t part, uint64_t whole) { return whole ? fmt("%.1f%%", 100.0 * part / whole) : "-"; }

uint64_t stat(const Profile& p, const char* name) {
  auto it = p.stat.find(name);
  return it == p.stat.end() ? 0 : it->second;
}
uint64_t value(const Profile& p, const char* name) {
  auto it = p.value.find(name);
  return it == p.value.end() ? 0 : it->second;
}

bool has(const std::vector<std::string>& lanes, const std::string& l) {
  return std::find(lanes.begin(), lanes.end(), l) != lanes.end();
}

}  // namespace

bool read_profile(const std::string& path, Profile* out) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line != "hakozuna-profile 1") return false;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string key;
    s >> key;
    if (key == "end") {
      out->complete = true;
    } else if (key == "stat") {
      std::string name;
      uint64_t v = 0;
      s >> name >> v;
      out->stat[name] = v;
    } else if (key == "row") {
      std::string kind;
      ProfileRow r{};
      s >> kind >> r.size >> r.alloc >> r.free >> r.remote >> r.at_peak >> r.at_exit;
      r.span = kind == "span";
      out->rows.push_back(r);
    } else if (key == "threads") {
      s >> out->threads >> out->threads_max >> out->threads_alive;
    } else if (key == "lifetime") {
      unsigned b = 0;
      uint64_t n = 0;
      s >> b >> n;
      if (b < 7) out->life[b] = n;
    } else if (key == "pid") {
      s >> out->pid;
    } else if (key == "ppid") {
      s >> out->ppid;
    } else if (key == "elapsed_ms") {
      s >> out->elapsed_ms;
    } else if (key != "version") {
      int64_t v = 0;
      s >> v;
      out->value[key] = v < 0 ? 0 : static_cast<uint64_t>(v);
    }
  }
  return true;
}

std::vector<Bucket> buckets(const Profile& p) {
  std::map<std::pair<bool, uint64_t>, Bucket> by;
  for (const ProfileRow& r : p.rows) {
    uint64_t key = r.size;
    Bucket b;
    if (r.span) {
      b.upper = r.size ? 2 * r.size - 1 : (512u << 10) - 1;
      b.label = r.size ? pow2(r.size) + "-" + pow2(2 * r.size) : "256 KiB-512 KiB";
    } else {
      uint64_t up = 16;
      while (up < r.size) up *= 2;
      key = up;
      b.upper = up;
      b.label = "<= " + pow2(up);  // rows come in ascending order: each starts above the last
    }
    Bucket& into = by.try_emplace({r.span, key}, b).first->second;
    into.alloc += r.alloc;
    into.free += r.free;
    into.remote += r.remote;
    into.at_peak += r.at_peak;
  }
  std::vector<Bucket> out;
  for (auto& [k, b] : by) out.push_back(b);
  return out;
}

std::string reading(const Profile& p, const std::string& lane, const std::vector<std::string>& lanes) {
  std::vector<std::string> said;
  std::vector<Bucket> bs = buckets(p);
  uint64_t frees = 0, remote = 0, remote_small = 0;
  int64_t peak = 0, peak_mid_spans = 0;
  for (const Bucket& b : bs) {
    frees += b.free;
    remote += b.remote;
    if (b.upper <= 256) remote_small += b.remote;
    peak += std::max<int64_t>(b.at_peak, 0);
    if (b.upper > (256u << 10) && b.upper < (4u << 20)) peak_mid_spans += std::max<int64_t>(b.at_peak, 0);
  }
  const double share = frees ? double(remote) / frees : 0;
  if (frees >= 1000 && share >= 0.3) {
    std::string s = fmt("%.0f%% of frees are remote", 100 * share) +
                    fmt(", %.0f%% of them <= 256 B", remote ? 100.0 * remote_small / remote : 0);
    if (share >= 0.5 && remote_small >= 0.7 * remote && has(lanes, "r90") && lane != "r90")
      s += ": use the r90 lane (hakozuna run --lane r90), built for small blocks freed by other threads";
    said.push_back(s);
  } else if (frees >= 1000 && share < 0.05) {
    said.push_back(fmt("%.1f%% of frees are remote: threads free what they allocate", 100 * share));
  }
  if (p.threads_max > 32 && has(lanes, "p32") && lane != "p32")
    said.push_back("up to " + std::to_string(p.threads_max) +
                   " threads allocated at once, more than the 32 shards of the default lane: the p32 lane "
                   "(255 shards) gives each its own (--lane p32)");
  else if (p.threads_max > 1 && p.threads_max <= 8 && share < 0.3 && has(lanes, "fast") && lane == "scale")
    said.push_back("at most " + std::to_string(p.threads_max) +
                   " threads allocated at once: the fast lane (8 shards) may suit it (--lane fast)");
  if (peak > 0 && peak_mid_spans * 2 >= peak)
    said.push_back(fmt("%.0f%% of the memory at the peak is in blocks of 256 KiB to 4 MiB", 100.0 * peak_mid_spans / peak) +
                   ", which wait HAKOZUNA_PURGE_DELAY_MS (500 ms by default) before going back to the OS: "
                   "consider a shorter HAKOZUNA_PURGE_DELAY_MS");
  const uint64_t live_peak = value(p, "live_peak"), mapped_peak = value(p, "mapped_peak");
  if (live_peak && mapped_peak > live_peak * 3 / 2 && mapped_peak - live_peak > (16u << 20))
    said.push_back(fmt("the peak mapped memory is %.1f times the peak live memory", double(mapped_peak) / live_peak) +
                   ": memory freed in one size was not reused for another or waited for the decay; "
                   "malloc_trim(0) between phases gives it back at once");
  uint64_t ended = 0, short_lived = p.life[0] + p.life[1];
  for (uint64_t n : p.life) ended += n;
  if (ended >= 100 && short_lived * 2 >= ended)
    said.push_back(count(short_lived) + " threads lived under 10 ms: each sets up and returns a cache, "
                   "which a thread pool would save");
  if (said.empty()) return "Nothing stands out: the defaults suit this program.";
  std::string out;
  for (std::string& s : said) {
    s[0] = static_cast<char>(toupper(s[0]));
    out += (out.empty() ? "" : " ") + s + ".";
  }
  return out;
}

std::string format_report(const Profile& p, const std::string& program, const std::string& lane,
                          const std::vector<std::string>& lanes) {
  std::ostringstream o;
  const uint64_t allocs = stat(p, "alloc"), frees = stat(p, "free"), remote = stat(p, "remote_free");
  o << "hakozuna profile of " << program << " (pid " << p.pid << ", " << fmt("%.2f s", p.elapsed_ms / 1000.0)
    << ", lane " << lane << ")\n\n";
  o << "  allocations   " << count(allocs) << "\n";
  o << "  frees         " << count(frees) << "  (" << count(allocs > frees ? allocs - frees : 0)
    << " blocks not freed at exit)\n";
  o << "  remote frees  " << count(remote) << "  (" << pct(remote, frees)
    << " of frees: freed by a thread of another shard than the block's owner)\n";
  const uint64_t live_peak = value(p, "live_peak"), mapped_peak = value(p, "mapped_peak");
  o << "  peak live     " << bytes(double(live_peak)) << "  (blocks in use, at their size class)\n";
  o << "  peak mapped   " << bytes(double(mapped_peak)) << "  (live " << pct(live_peak, mapped_peak)
    << " of it at the peak; the rest: runs' free blocks, caches, freed pages awaiting the decay)\n";
  o << "  threads       " << p.threads << " used the allocator, at most " << p.threads_max << " at once, "
    << p.threads_alive << " still alive at exit\n";
  uint64_t ended = 0;
  for (uint64_t n : p.life) ended += n;
  if (ended) {
    static const char* kLife[] = {"< 1 ms", "< 10 ms", "< 100 ms", "< 1 s", "< 10 s", "< 100 s", ">= 100 s"};
    o << "  lifetimes     of the " << ended << " that ended:";
    for (int b = 0; b < 7; ++b)
      if (p.life[b]) o << "  " << kLife[b] << ": " << p.life[b];
    o << "\n";
  }

  std::vector<Bucket> bs = buckets(p);
  int64_t peak_sum = 0;
  for (const Bucket& b : bs) peak_sum += std::max<int64_t>(b.at_peak, 0);
  o << "\n  block size         allocations   share   remote   live at peak   share\n";
  for (const Bucket& b : bs) {
    char line[200];
    const uint64_t at_peak = uint64_t(std::max<int64_t>(b.at_peak, 0));
    snprintf(line, sizeof line, "  %-17s %12s %7s %8s %14s %7s\n", b.label.c_str(), count(b.alloc).c_str(),
             pct(b.alloc, allocs).c_str(), pct(b.remote, b.free).c_str(), bytes(double(at_peak)).c_str(),
             pct(at_peak, uint64_t(peak_sum)).c_str());
    o << line;
  }
  o << "  (remote: the share of that size's frees made remotely)\n";

  const uint64_t flushes = stat(p, "remote_flush");
  o << "\n  caches        " << count(stat(p, "refill")) << " refills, " << count(stat(p, "central_push"))
    << " flushes to central, " << count(stat(p, "central_drain")) << " central drains, "
    << count(stat(p, "borrow")) << " borrows, " << count(stat(p, "partial_take")) << " partial-run takes\n";
  o << "  remote        " << count(flushes) << " stash flushes (" << (flushes ? stat(p, "remote_flush_blocks") / flushes : 0)
    << " blocks on average), " << count(stat(p, "stash_push")) << " owner-stash pushes, "
    << count(stat(p, "stash_exchange")) << " owner-stash drains, " << count(stat(p, "drained_set"))
    << " drained remainders kept in the shard (spill)\n";
  o << "  memory        " << count(stat(p, "run_new")) << " runs carved, " << count(stat(p, "run_release"))
    << " released; " << count(stat(p, "large_alloc")) << " page spans; purged " << bytes(double(stat(p, "purged_bytes")))
    << "; reclaim " << count(stat(p, "reclaim_runs")) << " runs (" << count(stat(p, "reclaim_pages")) << " pages); "
    << count(value(p, "trim_calls")) << " trims returned " << bytes(double(value(p, "trim_bytes"))) << "\n";
  if (stat(p, "alloc_failed") || stat(p, "emergency_flush"))
    o << "  exhaustion    " << count(stat(p, "emergency_flush")) << " times the arena ran out, "
      << count(stat(p, "alloc_failed")) << " requests failed with ENOMEM\n";
  o << "\n" << reading(p, lane, lanes) << "\n";
  return o.str();
}

}  // namespace cli
