#!/usr/bin/env bash
# stress-ng's malloc stressor (2 workers with 2 threads each, malloc, calloc,
# realloc and free of up to 4 KiB blocks, malloc_trim in its loop, contents
# verified) and its thread-churn stressor. Timings differ run to run; the
# outcome lines, PIDs and times stripped, must match glibc's.
source "$(dirname "$0")/common.sh"
require stress-ng

run_pair sng stress-ng --malloc 2 --malloc-ops 400000 --malloc-pthreads 2 --malloc-bytes 4K \
  --malloc-max 16384 --pthread 1 --pthread-ops 2000 --verify --timeout 60
for mode in plain hz; do
  # "stress-ng: info:  [1234] successful run completed in 1.23s" -> outcome only
  sed -E 's/\[[0-9]+\] //; s/ in [0-9.]+s.*$//; /defaulting to/d' "$HZ_WORK/$mode/sng.err" >"$HZ_WORK/$mode/sng.fixed"
  grep -q "successful run completed" "$HZ_WORK/$mode/sng.fixed" || fail "$mode: stress-ng did not complete successfully"
done
same sng.fixed
cat "$HZ_WORK/hz/sng.fixed"
pass
