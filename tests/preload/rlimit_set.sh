#!/usr/bin/env bash
# rlimit_set.sh LIB WORK PROGRAM: PROGRAM (rlimit_set.c) sets RLIMIT_AS itself
# after its first malloc (setrlimit, the raw system call, prlimit from
# another thread, setrlimit while threads are busy in the heap), frees
# everything under a limit and trims (or goes on with fast paths only),
# and runs under a tiny limit: the same
# output as without the library (see rlimit_set.c).
source "$(dirname "$0")/common.sh"
prog=${3:?usage: $0 <lib> <work> <rlimit_set>}
hard=$(ulimit -Hv)
[[ $hard == unlimited ]] || skip "the hard RLIMIT_AS is set ($hard KiB)"
run_pair set "$prog" set
same set.out
run_pair raw "$prog" raw
same raw.out
run_pair tid "$prog" tid
same tid.out
for round in 1 2 3 4 5; do  # a race: each round a new chance
  run_pair "busy$round" "$prog" busy
  same "busy$round.out"
done
run_pair trim bash -c 'ulimit -v 400000 && exec "$0" trim' "$prog"
same trim.out
run_pair fast bash -c 'ulimit -v 400000 && exec "$0" fast' "$prog"
same fast.out
# The same behind the counting front (HAKOZUNA_PROFILE counts as
# HAKOZUNA_STATS=1 does, into a file): the pass reclaimed no shard there (the
# front's has none).
run_pair fast_counting env HAKOZUNA_PROFILE="$HZ_WORK/fast_counting" bash -c 'ulimit -v 400000 && exec "$0" fast' "$prog"
same fast_counting.out
run_pair tiny bash -c 'ulimit -v 10000 && exec "$0" tiny' "$prog"
same tiny.out
cat "$HZ_WORK"/hz/*.out "$HZ_WORK"/hz/set.err
pass
