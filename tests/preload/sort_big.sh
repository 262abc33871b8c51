#!/usr/bin/env bash
# GNU sort of a few hundred thousand generated lines, with a small buffer (-S)
# so it spills to temporary files and merges, and two threads.
source "$(dirname "$0")/common.sh"
require sort awk sha256sum

awk 'BEGIN {
  srand(4242)
  for (i = 0; i < 400000; i++)
    printf "%08d %s %d %c%c%c\n", int(rand() * 1e8), (i % 7 ? "key" : "KEY") (i % 1013), \
      int(rand() * 1e6) - 5e5, 97 + i % 26, 97 + (i * 7) % 26, 65 + (i * 13) % 26
}' >"$HZ_WORK/input.txt"

cat >"$HZ_WORK/sorts.sh" <<'SORTEOF'
set -euo pipefail
in=$1
mkdir -p tmp
sort -S 1M --parallel=2 -T tmp "$in" | sha256sum
sort -S 2M --parallel=2 -T tmp -k2,2 -k3,3n "$in" | sha256sum
sort -S 512K -T tmp -t ' ' -k4,4r -k1,1 "$in" | tail -n 3
sort -S 1M --parallel=2 -T tmp -u -k2,2 "$in" | wc -l
sort -S 1M -T tmp -n -k3,3 -s "$in" | sed -n 1,3p
sort -S 4M --parallel=2 -T tmp -f "$in" | sort -c -f && echo sorted-ok
sort -S 1M -T tmp "$in" >a.txt
sort -S 1M -T tmp -r "$in" >b.txt
sort -S 1M -T tmp -m a.txt <(sort -S 1M -T tmp -k1,1 b.txt) | uniq -c | sha256sum
SORTEOF

run_pair sorts bash "$HZ_WORK/sorts.sh" "$HZ_WORK/input.txt"
same sorts.out sorts.err a.txt
cat "$HZ_WORK/hz/sorts.out"
pass
