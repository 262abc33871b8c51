#!/usr/bin/env bash
# g++ (driver, cc1plus, as, ld: LD_PRELOAD propagates) compiles a generated
# template/std::map/std::string-heavy program; the objects, the program's output
# and the compiler diagnostics must match the run without the library.
source "$(dirname "$0")/common.sh"
require g++
CXX=$(command -v g++)
N=${HZ_GXX_UNITS:-16}

gen() {
  cat <<'HDR'
#include <algorithm>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

template <int I, typename T>
struct Node {
  std::map<std::string, std::vector<T>> by_name;
  std::unordered_map<int, std::string> names;
  std::set<std::tuple<int, std::string, T>> ordered;
  void add(int k, const T& v) {
    std::string key = "n" + std::to_string(I) + "_" + std::to_string(k % 97);
    by_name[key].push_back(v);
    names.emplace(k, key + std::string(static_cast<size_t>(k % 13), '#'));
    ordered.emplace(k % 50, key, v);
  }
  std::uint64_t digest() const {
    std::uint64_t h = 1469598103934665603ull + I;
    for (const auto& [k, v] : by_name) {
      for (char c : k) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      h += v.size();
    }
    for (const auto& t : ordered) h = h * 31 + std::get<0>(t) + std::get<1>(t).size();
    return h ^ names.size();
  }
};

template <typename... Ts>
std::string describe(const std::tuple<Ts...>& t) {
  std::ostringstream os;
  std::apply([&](const auto&... x) { ((os << x << ';'), ...); }, t);
  return os.str();
}

using Value = std::variant<int, std::string, double>;
HDR
  local i
  for ((i = 0; i < N; i++)); do
    cat <<UNIT
struct Payload$i {
  int a = $i;
  std::string s = std::string("payload$i") + std::string($((i % 7 + 1)), 'z');
  bool operator<(const Payload$i& o) const { return std::tie(a, s) < std::tie(o.a, o.s); }
};
std::uint64_t run$i(int n) {
  Node<$i, Payload$i> node;
  std::map<std::string, Value> vals;
  for (int k = 0; k < n; ++k) {
    Payload$i p;
    p.a = k * $((i + 3));
    p.s += std::to_string(k);
    node.add(k, p);
    if (k % 3 == 0) vals["v" + std::to_string(k)] = k;
    else if (k % 3 == 1) vals["v" + std::to_string(k)] = std::string(static_cast<size_t>(k % 17), 'q');
    else vals["v" + std::to_string(k)] = k / 3.0;
  }
  std::uint64_t h = node.digest();
  for (const auto& [k, v] : vals) h = h * 1315423911u + k.size() + v.index();
  return h + describe(std::make_tuple($i, std::string("t$i"), 1.5 * $i)).size();
}
UNIT
  done
  echo 'int main() {'
  echo '  std::vector<std::function<std::uint64_t(int)>> fns = {'
  for ((i = 0; i < N; i++)); do echo "    run$i,"; done
  echo '  };'
  echo '  std::uint64_t total = 0;'
  echo '  for (size_t i = 0; i < fns.size(); ++i) {'
  echo '    std::uint64_t h = fns[i](200 + static_cast<int>(i) * 10);'
  echo '    total ^= h + i;'
  echo '    std::cout << "unit " << i << " " << h << "\n";'
  echo '  }'
  echo '  std::cout << "total " << total << "\n";'
  echo '}'
}
gen >"$HZ_WORK/gen.cpp"

run_pair compile_obj "$CXX" -std=c++17 -O1 -Wall -Wextra -c "$HZ_WORK/gen.cpp" -o gen.o
same compile_obj.err gen.o
run_pair link "$CXX" gen.o -o gen
# The program built by the preloaded compiler, itself run preloaded, prints
# what the plainly built one prints without the library.
run_pair program ./gen
same program.out
tail -n 1 "$HZ_WORK/hz/program.out"
pass
