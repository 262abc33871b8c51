// The one parser of HAKOZUNA_* variables (issue 9 point 2), and the README's
// options table checked against its table.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "options/options.h"

namespace {

const hz::options::Spec& spec(const char* name) {
  size_t n = 0;
  const hz::options::Spec* t = hz::options::table(&n);
  for (size_t i = 0; i < n; ++i)
    if (std::string(t[i].name) == name) return t[i];
  ADD_FAILURE() << "no option " << name;
  return t[0];
}

bool parses(const char* name, const char* text, uint64_t* v, std::string* why = nullptr) {
  const char* w = "";
  bool ok = hz::options::parse_value(spec(name), text, v, &w);
  if (why) *why = w;
  return ok;
}

TEST(Options, SizesTakeAnIntegerAndABinarySuffix) {
  uint64_t v = 0;
  struct Case {
    const char* text;
    uint64_t want;
  } ok[] = {{"512M", 512ull << 20}, {"512m", 512ull << 20}, {"4G", 4ull << 30}, {"4g", 4ull << 30},
            {"1T", 1ull << 40},     {"16M", 16ull << 20},   {"65536K", 64ull << 20}, {"268435456", 256ull << 20}};
  for (const Case& c : ok) {
    ASSERT_TRUE(parses("HAKOZUNA_ARENA_SIZE", c.text, &v)) << c.text;
    EXPECT_EQ(v, c.want) << c.text;
  }
}

TEST(Options, MalformedOutOfRangeAndTooSmallSizesAreRefusedWithAReason) {
  const char* bad[] = {"1.5G", "1e9", "64X", "1k", "16E", "1", "99999999999999T", "abc", "-1", "", " 1G",
                       "1G ", "+1G", "1GB", "0", "5T", "18446744073709551616"};
  for (const char* b : bad) {
    uint64_t v = 12345;
    std::string why;
    EXPECT_FALSE(parses("HAKOZUNA_ARENA_SIZE", b, &v, &why)) << b;
    EXPECT_EQ(v, 12345u) << b;
    EXPECT_FALSE(why.empty()) << b;
  }
  uint64_t v = 0;
  std::string why;
  EXPECT_FALSE(parses("HAKOZUNA_ARENA_SIZE", "1k", &v, &why));
  EXPECT_NE(why.find("too small"), std::string::npos) << why;
  EXPECT_FALSE(parses("HAKOZUNA_ARENA_SIZE", "99999999999999T", &v, &why));
  EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

TEST(Options, MillisecondsAndBooleans) {
  uint64_t v = 0;
  ASSERT_TRUE(parses("HAKOZUNA_PURGE_DELAY_MS", "0", &v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(parses("HAKOZUNA_PURGE_DELAY_MS", "2500", &v));
  EXPECT_EQ(v, 2500u);
  for (const char* b : {"abc", "-1", "", "1s", "1.5", "4294967296", "3600001"})
    EXPECT_FALSE(parses("HAKOZUNA_PURGE_DELAY_MS", b, &v)) << b;
  for (const char* name : {"HAKOZUNA_STATS", "HAKOZUNA_BACKGROUND_PURGE", "HAKOZUNA_IDLE_RETURN", "HAKOZUNA_HUGEPAGES", "HAKOZUNA_VERBOSE"}) {
    ASSERT_TRUE(parses(name, "1", &v));
    EXPECT_EQ(v, 1u);
    ASSERT_TRUE(parses(name, "0", &v));
    EXPECT_EQ(v, 0u);
    for (const char* b : {"yes", "2", "", "01", "true"}) EXPECT_FALSE(parses(name, b, &v)) << name << "=" << b;
  }
}

TEST(Options, EveryDefaultParses) {
  size_t n = 0;
  const hz::options::Spec* t = hz::options::table(&n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    EXPECT_TRUE(parses(t[i].name, t[i].default_text, &v)) << t[i].name;
  }
}

// The README's options table lists exactly the parser's variables, with the
// parser's defaults.
TEST(Options, ReadmeTableMatchesTheParser) {
  std::ifstream in(HZ_SOURCE_DIR "/README.md");
  ASSERT_TRUE(in) << "cannot read README.md";
  std::map<std::string, std::string> readme;
  std::regex row(R"(^\| `(HAKOZUNA_[A-Z_]+)` \| `([^`]*)` \|)");
  bool in_table = false;  // the table headed "| variable | default | meaning |"
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| variable | default |", 0) == 0) in_table = true;
    if (line.empty()) in_table = false;
    std::smatch m;
    if (in_table && std::regex_search(line, m, row)) readme[m[1]] = m[2];
  }
  size_t n = 0;
  const hz::options::Spec* t = hz::options::table(&n);
  ASSERT_EQ(readme.size(), n) << "README rows and parser table differ in number";
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(readme.count(t[i].name)) << t[i].name << " is missing from the README's table";
    EXPECT_EQ(readme[t[i].name], t[i].default_text) << t[i].name;
  }
}

}  // namespace
