#!/usr/bin/env bash
# tools/replay/replay.sh: a program's malloc calls recorded under glibc, then
# replayed under glibc and the library; every call of the trace is made.
# Usage: replay_test.sh <replay.sh> <work-dir> <libhakozuna.so>
set -euo pipefail
REPLAY=$1 WORK=$2 LIB=$3
unset LD_PRELOAD || true
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
command -v cc >/dev/null || { echo "SKIP: no cc"; exit 77; }
seq 1 20000 | awk '{print ($1 * 7919) % 20011, $1}' >in.txt
export HZ_REPLAY_BUILD=$WORK/build
"$REPLAY" record "$WORK/traces" -- sort -n in.txt >sorted.txt
cmp -s sorted.txt <(sort -n in.txt) || { echo "FAIL: sort's output changed under the recording shim"; exit 1; }
trace=$(ls -S "$WORK"/traces/*.bin | head -n 1)
calls=$(od -An -tu4 -N4 "$trace" | tr -d ' ')
((calls > 100)) || { echo "FAIL: $trace holds $calls calls"; exit 1; }
line=$("$REPLAY" run "$trace" "$LIB")
echo "$line ($calls calls)"
[[ $line =~ ^trace\.[0-9]+\.bin\ glibc\ [0-9]+\ libhakozuna[^\ ]*\ [0-9]+$ ]] || { echo "FAIL: $line"; exit 1; }
# A truncated trace is refused, not read past its end.
head -c 100 "$trace" >cut.bin
if "$HZ_REPLAY_BUILD/replay" cut.bin 2>err.txt; then echo "FAIL: a truncated trace was replayed"; exit 1; fi
grep -q truncated err.txt || { echo "FAIL: $(cat err.txt)"; exit 1; }
echo PASS
