#!/usr/bin/env bash
# tools/replay/replay.sh record OUT_DIR -- COMMAND...   records COMMAND's malloc calls (glibc),
#     one trace per process, as OUT_DIR/trace.PID.bin
# tools/replay/replay.sh run TRACE.bin [LIB...]          peak RSS (KiB) of the replay under
#     glibc and each LIB (LD_PRELOAD), one line
# See docs/benchmarks.md, "Footprint of real programs, their malloc calls replayed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${HZ_REPLAY_BUILD:-/tmp/hz_replay_build}
mkdir -p "$work"
cc -O2 -shared -fPIC -o "$work/trace_shim.so" "$here/trace_shim.c"
cc -O2 -o "$work/replay" "$here/replay.c"
case ${1:-} in
  record)
    out=$2; shift 2; [[ ${1:-} == -- ]] && shift
    mkdir -p "$out"
    HZ_TRACE_OUT="$out/trace" LD_PRELOAD="$work/trace_shim.so" "$@"
    for t in "$out"/trace.[0-9]*; do
      [[ $t == *.bin ]] && continue
      "$here/trace2bin.py" "$t" "$t.bin" && rm -f "$t"
    done
    ls -S "$out"/*.bin >&2 ;;  # the command's own output stays alone on stdout
  run)
    trace=$2; shift 2
    line="$(basename "$trace") glibc $("$work/replay" "$trace" | awk '{print $2}')"
    for lib in "$@"; do line+=" $(basename "$lib") $(LD_PRELOAD=$lib "$work/replay" "$trace" | awk '{print $2}')"; done
    echo "$line" ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
