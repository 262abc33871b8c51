#!/usr/bin/env bash
# rlimit_shrink.sh LIB WORK PROGRAM: PROGRAM (rlimit_shrink.c) fills memory
# under `ulimit -v 300000`, frees it all, and then needs address space for
# its own mappings (a thread stack, a 16 MiB mmap): the arena must give back
# its free reservation, on malloc_trim(0) ("trim"), by the decay alone
# ("decay") and at free ("free", and "pinned": below live small blocks), as
# glibc does; then malloc must get about as
# far again.
source "$(dirname "$0")/common.sh"
prog=${3:?usage: $0 <lib> <work> <rlimit_shrink>}
kb=300000
hard=$(ulimit -Hv)
[[ $hard == unlimited ]] || ((kb <= hard)) || skip "the hard RLIMIT_AS is below $kb KiB"

for mode in trim decay free pinned; do
  run_pair "$mode" bash -c 'ulimit -v "$0" && exec "$1" "$2"' "$kb" "$prog" "$mode"
  same "$mode.out"
  cat "$HZ_WORK/plain/$mode.err" "$HZ_WORK/hz/$mode.err"
  cat "$HZ_WORK/hz/$mode.out"
  read -r n1 n2 < <(sed -n 's/.*got \([0-9]*\) MiB, then \([0-9]*\) MiB.*/\1 \2/p' "$HZ_WORK/hz/$mode.err")
  [[ -n $n1 && -n $n2 ]] || fail "$mode: no 'got N MiB, then M MiB' line"
  ((n2 + 16 + n1 / 8 >= n1)) || fail "$mode: got $n1 MiB, then only $n2 MiB beside the 16 MiB mmap"
done
pass
