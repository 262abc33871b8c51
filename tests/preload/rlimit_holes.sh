#!/usr/bin/env bash
# rlimit_holes.sh LIB WORK PROGRAM STRESS THREADS SCATTERED TAKEN: under `ulimit -v 2000000`, PROGRAM
# (rlimit_holes.c) holds 1.4 GiB of 1 MiB blocks, frees every other one and
# asks for 600 MiB in one block: the address space is there, in pieces, and
# must be given (glibc gives it). Same output both ways. Then, preloaded only
# (glibc fails its second round), 20 rounds of the same in one process.
source "$(dirname "$0")/common.sh"
usage="usage: $0 <lib> <work> <rlimit_holes> <rlimit_stress> <rlimit_threads> <rlimit_scattered> <rlimit_taken>"
prog=${3:?$usage}
stress=${4:?$usage}
threads=${5:?$usage}
scattered=${6:?$usage}
taken=${7:?$usage}
(ulimit -v 2000000) 2>/dev/null || skip "cannot lower RLIMIT_AS here"

run_pair holes bash -c "ulimit -v 2000000 && exec \"\$0\" 1400 600" "$prog"
same holes.out
cat "$HZ_WORK/hz/holes.out"
out=$(LD_PRELOAD=$HZ_LIB bash -c "ulimit -v 2000000 && exec \"\$0\" 1400 600 20" "$prog") || fail "20 rounds: $out"
[[ $out == ok ]] || fail "20 rounds: $out"
echo "[$HZ_TEST] 20 rounds: $out"
# STRESS (rlimit_stress.c) under `ulimit -v 1000000`: large spans unmapped at
# free and mapped back keep every block whole and inside the heap.
run_pair stress bash -c 'ulimit -v 1000000 && exec "$0" 20000' "$stress"
same stress.out
cat "$HZ_WORK/hz/stress.out"
# THREADS (rlimit_threads.c): the same from four threads, with trades, a fork
# and trims, under `ulimit -v 900000`; two runs (it found its crash about
# one run in five).
for round in 1 2; do
  run_pair "threads$round" bash -c 'ulimit -v 900000 && exec "$0" 8000' "$threads"
  same "threads$round.out"
done
# SCATTERED (rlimit_scattered.c) under `ulimit -v 4000000`: 14 000 freed
# blocks of 260 KiB, each a hole of its own, come back for the program's
# mmaps (8192 holes at most gave 2 368 of 3 554 MiB; the hardened build's
# guard pages leave no room for more blocks); and with the process
# near its mapping limit, refused unmaps leave the spans usable.
run_pair scattered bash -c 'ulimit -v 4000000 && exec "$0" 14000 map' "$scattered"
same scattered.out
run_pair scattered_mapcount bash -c 'ulimit -v 4000000 && exec "$0" 8000 mapcount' "$scattered"
same scattered_mapcount.out
# TAIL: the program maps pages of its own where the heap's end was given
# back; the heap must grow around them (it failed for good).
for pages in 1 48; do
  run_pair "scattered_tail$pages" bash -c 'ulimit -v 6000000 && exec "$0" "$1" tail' "$scattered" "$pages"
  same "scattered_tail$pages.out"
done
# TAKEN (rlimit_taken.c): a mapping of the program's at a 4 MiB boundary past
# the reservation, and the heap grown past it (a closed run record read
# there crashed the page heap).
run_pair taken bash -c 'ulimit -v 1000000 && exec "$0"' "$taken"
same taken.out
cat "$HZ_WORK/hz/taken.out"
pass
