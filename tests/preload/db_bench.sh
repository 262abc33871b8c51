#!/usr/bin/env bash
# RocksDB's db_bench (Debian rocksdb-tools): one thread fills a database
# (fillseq, overwrite, compact), then 4 threads read it back (readrandom,
# readseq). Timings vary; the benchmarks run, the "found" counts, and the
# database's contents (ldb scan, hashed) must match the run without us.
source "$(dirname "$0")/common.sh"
require db_bench ldb md5sum

common=(--num=50000 --value_size=200 --compression_type=none --seed=42 --db=./db)
cat >"$HZ_WORK/db_bench_run.sh" <<EOF2
set -e
db_bench --benchmarks=fillseq,overwrite,compact --threads=1 ${common[*]}
db_bench --benchmarks=readrandom,readseq --threads=4 --use_existing_db=1 ${common[*]}
ldb --db=./db scan | md5sum
EOF2
run_pair dbb bash "$HZ_WORK/db_bench_run.sh"
for mode in plain hz; do
  # benchmark names, the "(N of M found)" counts, and the scan's hash
  out=$HZ_WORK/$mode/dbb.out
  {
    sed -nE 's/^([a-z]+) +:.*/\1/p' "$out"
    grep -oE '\([0-9]+ of [0-9]+ found\)' "$out"
    grep -E '^[0-9a-f]{32} ' "$out"
  } >"$HZ_WORK/$mode/dbb.fixed"
  grep -q "found" "$HZ_WORK/$mode/dbb.fixed" || fail "$mode: db_bench printed no read results"
done
same dbb.fixed
cat "$HZ_WORK/hz/dbb.fixed"
pass
