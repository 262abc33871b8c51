// Run-time options: every HAKOZUNA_* environment variable, parsed by one
// parser from one table (options.cpp), once, at process init. A malformed,
// out-of-range or unknown value gives one warning line on stderr and the
// default; nothing here allocates.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hz::options {

struct Values {
  size_t arena_size;        // HAKOZUNA_ARENA_SIZE: most bytes the arena may hand out
  bool arena_size_set;      // ... given explicitly (a hard budget)
  uint32_t purge_delay_ms;  // HAKOZUNA_PURGE_DELAY_MS
  bool background_purge;    // HAKOZUNA_BACKGROUND_PURGE
  bool idle_return;         // HAKOZUNA_IDLE_RETURN
  bool hugepages;           // HAKOZUNA_HUGEPAGES
  bool stats;               // HAKOZUNA_STATS
  bool verbose;             // HAKOZUNA_VERBOSE
  const char* profile;      // HAKOZUNA_PROFILE: file prefix for the profile (nullptr: off)
};

// Parses the environment (first call only; later calls return at once).
void parse();
// The parsed values (defaults until parse() ran).
const Values& get();

// The table, for `options` listings and the README check.
enum class Kind : uint8_t { Size, Millis, Bool, Text };
struct Spec {
  const char* name;
  Kind kind;
  const char* default_text;  // as shown in the README ("unset" for Text)
  const char* meaning;       // one line
};
const Spec* table(size_t* n);

// Parses one value as the library would. Returns false (and leaves *out) when
// it is malformed or out of range; *why then says why. Exposed for tests.
bool parse_value(const Spec& spec, const char* text, uint64_t* out, const char** why);

}  // namespace hz::options
