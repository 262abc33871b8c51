#!/usr/bin/env bash
# rlimit_realloc.sh LIB WORK PROGRAM: PROGRAM (rlimit_realloc.c) grows a buffer
# by realloc in 2 048 steps of 8 KiB with a small block kept after each.
# Under `ulimit -v 4G`, and under HAKOZUNA_ARENA_SIZE=4G, with hakozuna it
# must move the buffer at most 100 times (a move is a copy of all of it;
# with room given to a moved block, about 20), as it does with no limit.
source "$(dirname "$0")/common.sh"
prog=${3:?usage: $0 <lib> <work> <rlimit_realloc>}
[[ $(ulimit -Hv) == unlimited ]] || skip "the hard RLIMIT_AS is not unlimited"

moves() { sed -n 's/.* steps, \([0-9]*\) moves$/\1/p' <<<"$1"; }
for how in "ulimit -v 4194304" "export HAKOZUNA_ARENA_SIZE=4G" "true"; do
  out=$(bash -c "$how; LD_PRELOAD=$HZ_LIB $prog") || fail "$how: $out"
  m=$(moves "$out")
  [[ -n $m ]] || fail "$how: no 'N moves' line: $out"
  echo "$how: $out"
  ((m <= 100)) || fail "$how: the buffer moved $m times"
done
pass
