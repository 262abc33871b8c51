// hakozuna options: the library's own table (src/options, compiled into the
// command too) with each variable's default, its value in this environment as
// the library would read it, and its meaning.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "cli.h"
#include "options/options.h"

extern char** environ;

namespace cli {

int options_main(const std::vector<std::string>& args) {
  if (!args.empty()) {
    fprintf(stderr, "hakozuna options: takes no arguments\n");
    return 2;
  }
  size_t n = 0;
  const hz::options::Spec* t = hz::options::table(&n);
  struct Line {
    std::string name, def, now, meaning;
  };
  std::vector<Line> lines;
  for (size_t i = 0; i < n; ++i) {
    const char* text = getenv(t[i].name);
    std::string now;
    uint64_t v = 0;
    const char* why = "";
    if (!text) now = "(unset)";
    else if (hz::options::parse_value(t[i], text, &v, &why)) now = text;
    else now = std::string("'") + text + "' ignored (" + why + ")";
    lines.push_back({t[i].name, t[i].default_text, now, t[i].meaning});
  }
  size_t w[2] = {0, 0};
  for (const Line& l : lines) {
    w[0] = std::max(w[0], l.name.size());
    w[1] = std::max(w[1], l.def.size());
  }
  for (const Line& l : lines)
    printf("%-*s  default %-*s  now %s\n    %s\n", int(w[0]), l.name.c_str(), int(w[1]), l.def.c_str(),
           l.now.c_str(), l.meaning.c_str());
  // The library warns about these and ignores them: most likely typos.
  for (char** e = environ; e && *e; ++e) {
    if (strncmp(*e, "HAKOZUNA_", 9) != 0) continue;
    std::string name(*e, strcspn(*e, "="));
    bool known = false;
    for (size_t i = 0; i < n; ++i) known |= name == t[i].name;
    if (!known) printf("%s: unknown, ignored (with a warning) by the library\n", name.c_str());
  }
  printf("\nRead once, at a program's first allocation. Sizes take K, M, G or T (powers\n"
         "of 1024); switches are 0 or 1. See also man hakozuna.\n");
  return 0;
}

}  // namespace cli
