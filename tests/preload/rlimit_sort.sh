#!/usr/bin/env bash
# GNU sort of a ~100 MB generated file, in memory: sort sizes its buffer from
# RLIMIT_AS (half of it), so under `ulimit -v` (see rlimit_under.sh) it asks
# for a few hundred MB at once, beyond a reservation made for the limit.
source "$(dirname "$0")/common.sh"
require sort awk sha256sum

awk 'BEGIN {
  srand(2718)
  for (i = 0; i < 3200000; i++)
    printf "%09d %s%05d %8d %c%c\n", int(rand() * 1e9), (i % 5 ? "key" : "KEY"), i % 10007, \
      int(rand() * 2e7) - 1e7, 97 + i % 26, 65 + (i * 7) % 26
}' >"$HZ_WORK/input.txt"
echo "[$HZ_TEST] input: $(stat -c %s "$HZ_WORK/input.txt") bytes, ulimit -v $(ulimit -v)"

cat >"$HZ_WORK/sorts.sh" <<'SORTEOF'
set -euo pipefail
in=$1
sort --parallel=2 "$in" | sha256sum
sort --parallel=2 -k2,2 -k3,3n "$in" >by-key.txt
sha256sum <by-key.txt
sed -n '1,2p;1000000p' by-key.txt
rm by-key.txt
SORTEOF

run_pair sorts bash "$HZ_WORK/sorts.sh" "$HZ_WORK/input.txt"
same sorts.out sorts.err
cat "$HZ_WORK/hz/sorts.out"
pass
