#!/usr/bin/env bash
# rlimit_grow.sh LIB WORK PROGRAM: PROGRAM (rlimit_grow.c) starts under a soft
# RLIMIT_AS of 400 MB with no hard limit, fills memory until malloc fails, then
# raises its soft limit and allocates 2 GiB more. Under LD_PRELOAD it must get
# at least 80% of what it gets on glibc, and all of the 2 GiB.
source "$(dirname "$0")/common.sh"
require prlimit
prog=${3:?usage: $0 <lib> <work> <rlimit_grow>}
[[ $(ulimit -Hv) == unlimited ]] || skip "the hard RLIMIT_AS is not unlimited"

run_pair grow prlimit --as=400000000:unlimited "$prog"
same grow.out
cat "$HZ_WORK/plain/grow.err" "$HZ_WORK/hz/grow.err"
got() { sed -n 's/.*got \([0-9]*\) MiB.*/\1/p' "$HZ_WORK/$1/grow.err"; }
plain=$(got plain) hz=$(got hz)
[[ -n $plain && -n $hz ]] || fail "no 'got N MiB' line"
((hz * 10 >= plain * 8)) || fail "got $hz MiB under the soft limit, glibc $plain MiB"
cat "$HZ_WORK/hz/grow.out"
pass
