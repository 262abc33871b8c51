#include "options/options.h"

#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "config.h"

extern char** environ;

namespace hz::options {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMinArena = 16 * kKiB * kKiB;       // below this no size class could carve twice
constexpr uint64_t kMaxArena = uint64_t{4} << 40;      // its metadata alone would be ~56 GiB beyond
constexpr uint64_t kMaxDelayMs = 3600 * 1000;          // an hour: longer is "never", say 0 for "at once"

// The one table. The README's options table is checked against it by a test.
constexpr Spec kTable[] = {
    {"HAKOZUNA_STATS", Kind::Bool, "0", "count and print one line to stderr at exit"},
    {"HAKOZUNA_ARENA_SIZE", Kind::Size, "256G", "the most memory the arena may hand out (16M to 4T)"},
    {"HAKOZUNA_PURGE_DELAY_MS", Kind::Millis, "500", "free memory idle this long goes back to the OS (0 to 3600000)"},
    {"HAKOZUNA_BACKGROUND_PURGE", Kind::Bool, "1", "a background thread runs the decay in multi-threaded processes"},
    {"HAKOZUNA_IDLE_RETURN", Kind::Bool, "1", "the caches of threads asleep outside the allocator are taken back"},
    {"HAKOZUNA_HUGEPAGES", Kind::Bool, "0", "ask for transparent huge pages on the arena"},
    {"HAKOZUNA_VERBOSE", Kind::Bool, "0", "print the effective options at start"},
    {"HAKOZUNA_PROFILE", Kind::Text, "unset", "count and write the allocation profile to FILE.<pid> at exit (hakozuna profile)"},
};
constexpr size_t kCount = sizeof kTable / sizeof kTable[0];
enum : size_t { kOptStats, kOptArena, kOptDelay, kOptBackground, kOptIdle, kOptHuge, kOptVerbose, kOptProfile };

constinit Values g_values = {kArenaReserveDefault, false, kPurgeDelayMsDefault, true, true, false, false, false, nullptr};
constinit bool g_parsed = false;

// A fixed-size line buffer: warnings are built without allocating.
struct Line {
  char buf[512];
  size_t len = 0;
  void put(const char* s, size_t max = ~size_t{0}) {
    for (size_t i = 0; s[i] && i < max && len + 2 < sizeof buf; ++i) buf[len++] = s[i];
  }
  // A value from the environment, its n characters: control characters shown
  // as '?' (one line, whatever it holds), cut with "..." past 64.
  void put_value_text(const char* s, size_t n) {
    size_t i = 0;
    for (; i < n && i < 64 && len + 2 < sizeof buf; ++i)
      buf[len++] = static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (i < n) put("...");
  }
  void put_u64(uint64_t v) {
    char d[24];
    d[format_u64(d, v)] = 0;
    put(d);
  }
  void emit() {
    buf[len++] = '\n';
    buf[len] = 0;
    write_stderr(buf);
  }
};

// 256G rather than 274877906944.
void put_value(Line& l, const Spec& s, uint64_t v) {
  if (s.kind == Kind::Size) {
    static const char kSuffix[] = "KMGT";
    int i = -1;
    while (i < 3 && v != 0 && v % kKiB == 0) {
      v /= kKiB;
      ++i;
    }
    l.put_u64(v);
    if (i >= 0) {
      char c[2] = {kSuffix[i], 0};
      l.put(c);
    }
    return;
  }
  l.put_u64(v);
}

uint64_t current(size_t i) {
  switch (i) {
    case kOptStats: return g_values.stats;
    case kOptArena: return g_values.arena_size;
    case kOptDelay: return g_values.purge_delay_ms;
    case kOptBackground: return g_values.background_purge;
    case kOptIdle: return g_values.idle_return;
    case kOptHuge: return g_values.hugepages;
    case kOptVerbose: return g_values.verbose;
    default: return 0;  // HAKOZUNA_PROFILE: text, see parse()
  }
}

void store(size_t i, uint64_t v) {
  switch (i) {
    case kOptStats: g_values.stats = v != 0; break;
    case kOptArena: g_values.arena_size = v & ~uint64_t{4095}, g_values.arena_size_set = true; break;  // whole pages
    case kOptDelay: g_values.purge_delay_ms = static_cast<uint32_t>(v); break;
    case kOptBackground: g_values.background_purge = v != 0; break;
    case kOptIdle: g_values.idle_return = v != 0; break;
    case kOptHuge: g_values.hugepages = v != 0; break;
    case kOptVerbose: g_values.verbose = v != 0; break;
    default: break;  // HAKOZUNA_PROFILE: text, see parse()
  }
}

}  // namespace

bool parse_value(const Spec& spec, const char* s, uint64_t* out, const char** why) {
  if (spec.kind == Kind::Text) {  // the text itself is the value; *out is untouched
    if (*s) return true;
    *why = "empty";
    return false;
  }
  if (spec.kind == Kind::Bool) {
    if ((s[0] == '0' || s[0] == '1') && s[1] == 0) {
      *out = static_cast<uint64_t>(s[0] - '0');
      return true;
    }
    *why = "not 0 or 1";
    return false;
  }
  const char* form = spec.kind == Kind::Size ? "not an integer with an optional K, M, G or T suffix"
                                             : "not an integer number of milliseconds";
  if (*s < '0' || *s > '9') {
    *why = form;
    return false;
  }
  uint64_t v = 0;
  bool overflow = false;
  for (; *s >= '0' && *s <= '9'; ++s) {
    uint64_t d = static_cast<uint64_t>(*s - '0');
    if (v > (~uint64_t{0} - d) / 10) overflow = true;
    else v = v * 10 + d;
  }
  unsigned shift = 0;
  if (spec.kind == Kind::Size && *s) {
    switch (*s) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: *why = form; return false;
    }
    ++s;
  }
  if (*s) {
    *why = form;
    return false;
  }
  if (shift && v > (~uint64_t{0} >> shift)) overflow = true;
  v <<= shift;
  uint64_t lo = spec.kind == Kind::Size ? kMinArena : 0;
  uint64_t hi = spec.kind == Kind::Size ? kMaxArena : kMaxDelayMs;
  if (overflow || v > hi) {
    *why = spec.kind == Kind::Size ? "too large: at most 4T" : "too large: at most 3600000";
    return false;
  }
  if (v < lo) {
    *why = "too small to work: at least 16M";
    return false;
  }
  *out = v;
  return true;
}

const Spec* table(size_t* n) {
  *n = kCount;
  return kTable;
}

const Values& get() { return g_values; }

void parse() {
  if (g_parsed) return;
  g_parsed = true;
  for (size_t i = 0; i < kCount; ++i) {
    const char* text = getenv(kTable[i].name);
    if (!text) continue;
    uint64_t v = 0;
    const char* why = "";
    if (parse_value(kTable[i], text, &v, &why)) {
      if (i == kOptProfile) g_values.profile = text;  // environ outlives us: no copy
      else store(i, v);
      continue;
    }
    Line l;
    l.put("hakozuna: ignoring ");
    l.put(kTable[i].name);
    l.put("=");
    l.put_value_text(text, strlen(text));
    l.put(" (");
    l.put(why);
    l.put("): using ");
    l.put(kTable[i].default_text);
    l.emit();
  }
  // A typo must not pass silently.
  for (char** e = environ; e && *e; ++e) {
    if (strncmp(*e, "HAKOZUNA_", 9) != 0) continue;
    const char* eq = strchr(*e, '=');
    size_t len = eq ? static_cast<size_t>(eq - *e) : strlen(*e);
    bool known = false;
    for (size_t i = 0; i < kCount && !known; ++i)
      known = strlen(kTable[i].name) == len && strncmp(kTable[i].name, *e, len) == 0;
    if (known && eq) continue;
    Line l;
    if (known) {  // getenv() does not see an entry without '='
      l.put("hakozuna: ignoring ");
      l.put(*e, len);
      l.put(" (no value): using the default");
      l.emit();
      continue;
    }
    l.put("hakozuna: ignoring unknown variable ");
    l.put_value_text(*e, len);
    for (size_t i = 0; i < kCount; ++i) {  // the known ones, from the table
      l.put(i == 0 ? " (known: " : ", _");
      l.put(kTable[i].name + (i == 0 ? 0 : 9));
    }
    l.put(")");
    l.emit();
  }
  if (g_values.verbose) {
    Line l;
    l.put("hakozuna: options");
    const char* profile = g_values.profile ? g_values.profile : "unset";
    for (size_t i = 0; i < kCount; ++i) {
      l.put(" ");
      l.put(kTable[i].name);
      l.put("=");
      if (i == kOptProfile) l.put_value_text(profile, strlen(profile));
      else put_value(l, kTable[i], current(i));
    }
    l.emit();
  }
}

}  // namespace hz::options
