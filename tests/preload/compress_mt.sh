#!/usr/bin/env bash
# Multi-threaded compressor round trip: xz -T2 or zstd -T2 (third argument).
# The compressed stream (deterministic for fixed block/job size) and the
# decompressed data must match the run without the library.
source "$(dirname "$0")/common.sh"
TOOL=${3:?usage: $0 <lib> <work-dir> xz|zstd}
require "$TOOL" awk sha256sum

# ~20 MB: text with repeats plus noisy hex, so blocks differ in ratio.
awk 'BEGIN {
  srand(99)
  for (i = 0; i < 260000; i++) {
    if (i % 5 == 0) printf "%08x%08x%08x%08x\n", rand() * 4e9, rand() * 4e9, rand() * 4e9, rand() * 4e9
    else printf "record %d: the quick brown fox %d jumps over the lazy dog %d times\n", i, i % 977, i % 31
  }
}' >"$HZ_WORK/data"
sha256sum <"$HZ_WORK/data" >"$HZ_WORK/data.sha256"

case $TOOL in
  xz)
    compress=(xz -T2 --block-size=1MiB -4 -c)
    decompress=(xz -T2 -d -c)
    ;;
  zstd)
    compress=(zstd -T2 -B1MiB -9 -q -c)
    decompress=(zstd -T2 -d -q -c)
    ;;
  *) fail "unknown tool $TOOL" ;;
esac

cat >"$HZ_WORK/roundtrip.sh" <<RTEOF
set -euo pipefail
${compress[*]} "$HZ_WORK/data" >data.$TOOL
${decompress[*]} data.$TOOL >data.out
cmp data.out "$HZ_WORK/data"
sha256sum <data.$TOOL
sha256sum <data.out
cat data.$TOOL data.$TOOL | ${decompress[*]} | sha256sum
RTEOF

run_pair roundtrip bash "$HZ_WORK/roundtrip.sh"
same roundtrip.out roundtrip.err "data.$TOOL"
grep -qF "$(cat "$HZ_WORK/data.sha256")" "$HZ_WORK/hz/roundtrip.out" ||
  fail "decompressed data does not match the input"
ls -l "$HZ_WORK/hz/data.$TOOL"
pass
