#!/usr/bin/env bash
# arena_threads.sh LIB WORK PROGRAM: PROGRAM (arena_threads.c), 1000 threads
# replacing stamped blocks up to 4.3 MB, with HAKOZUNA_ARENA_SIZE=256M (glibc
# ignores it): the page heap unmaps free spans as holes and maps them back
# near its limit, and must never hand out a page it does not have. Two
# rounds (the defect it found broke 3 runs in 4). Same output both ways.
source "$(dirname "$0")/common.sh"
prog=${3:?usage: $0 <lib> <work> <arena_threads>}
for round in 1 2; do
  run_pair "arena$round" env HAKOZUNA_ARENA_SIZE=256M bash -c 'ulimit -s 256 && exec "$0" 1000 4000 56' "$prog"
  same "arena$round.out"
done
pass
