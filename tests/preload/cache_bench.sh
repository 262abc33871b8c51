#!/usr/bin/env bash
# RocksDB's cache_bench (Debian rocksdb-tools): an LRU block cache under 4
# threads inserting, looking up and evicting 8 KiB values. Its timings vary
# run to run; its configuration block and the operation count must match, and
# it must finish cleanly.
source "$(dirname "$0")/common.sh"
require cache_bench

run_pair cb cache_bench -threads=4 -ops_per_thread=40000 -cache_size=134217728
for mode in plain hz; do
  # The configuration block, and "Count: N" of the latency histogram.
  sed -n '/^RocksDB version/,/^-----/p; /^Count:/s/ Average.*//p' "$HZ_WORK/$mode/cb.out" >"$HZ_WORK/$mode/cb.fixed"
  [[ -s $HZ_WORK/$mode/cb.fixed ]] || fail "$mode: cache_bench printed no configuration block"
done
same cb.fixed
cat "$HZ_WORK/hz/cb.fixed"
pass
