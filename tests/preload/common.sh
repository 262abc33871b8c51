# Shared helpers for the LD_PRELOAD tests. Sourced by each test script as
#   source common.sh <path/to/libhakozuna.so> <work-dir>
# Each test runs a real program twice, without and with the library preloaded,
# and requires byte-identical results and exit status 0 both times.
set -euo pipefail

HZ_LIB=${1:?usage: $0 <libhakozuna.so> <work-dir>}
HZ_WORK=${2:?usage: $0 <libhakozuna.so> <work-dir>}
HZ_TEST=$(basename "$0" .sh)
export LC_ALL=C
unset HAKOZUNA_STATS LD_PRELOAD || true

fail() {
  echo "FAIL [$HZ_TEST]: $*" >&2
  exit 1
}

skip() {
  echo "SKIP [$HZ_TEST]: $*" >&2
  exit 77
}

# require PROGRAM...: skip the test (exit 77) if a program is not installed.
require() {
  local p
  for p in "$@"; do
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
  done
}

[[ -f $HZ_LIB ]] || fail "library $HZ_LIB does not exist"
rm -rf "$HZ_WORK"
mkdir -p "$HZ_WORK"
cd "$HZ_WORK"

# The loader must really preload the library (a broken .so is otherwise only
# warned about on stderr and the program runs on glibc malloc).
check_preload_works() {
  local maps
  maps=$(LD_PRELOAD=$HZ_LIB cat /proc/self/maps 2>"$HZ_WORK/preload-check.err") ||
    fail "cat /proc/self/maps failed under LD_PRELOAD"
  if [[ -s $HZ_WORK/preload-check.err ]]; then
    cat "$HZ_WORK/preload-check.err" >&2
    fail "the loader complained about LD_PRELOAD=$HZ_LIB"
  fi
  grep -q "$(basename "$HZ_LIB")" <<<"$maps" || fail "$HZ_LIB is not mapped under LD_PRELOAD"
}
check_preload_works

# run_pair NAME CMD...: runs CMD in $HZ_WORK/plain and $HZ_WORK/hz (created
# fresh, current directory for the command), stdout to NAME.out and stderr to
# NAME.err in each; fails if either exits non-zero or the preload run's stderr
# mentions the loader. Time is reported, and the peak RSS of both runs (the
# largest of the command and the processes it waited for) when /usr/bin/time
# is installed (issue 13: footprint against glibc).
run_pair() {
  local name=$1
  shift
  local mode dir rc start end peak=()
  [[ -x /usr/bin/time ]] && peak=(/usr/bin/time -f %M -o "$name.peak")
  for mode in plain hz; do
    dir=$HZ_WORK/$mode
    mkdir -p "$dir"
    start=${EPOCHREALTIME/./}
    set +e
    if [[ $mode == hz ]]; then
      (cd "$dir" && LD_PRELOAD=$HZ_LIB "${peak[@]}" "$@") >"$dir/$name.out" 2>"$dir/$name.err"
    else
      (cd "$dir" && "${peak[@]}" "$@") >"$dir/$name.out" 2>"$dir/$name.err"
    fi
    rc=$?
    set -e
    end=${EPOCHREALTIME/./}
    printf '[%s] %-6s %-12s rc=%d %d ms\n' "$HZ_TEST" "$mode" "$name" "$rc" \
      $(((end - start) / 1000))
    if ((rc != 0)); then
      echo "--- stderr of the $mode run ($dir/$name.err):" >&2
      tail -n 30 "$dir/$name.err" >&2
      fail "$name exited with status $rc in the $mode run"
    fi
  done
  if grep -qE "ld\.so|cannot be preloaded|hakozuna:" "$HZ_WORK/hz/$name.err"; then
    cat "$HZ_WORK/hz/$name.err" >&2
    fail "$name: the preloaded run reported a loader or hakozuna error"
  fi
  if ((${#peak[@]})); then
    local a b
    a=$(tail -n 1 "$HZ_WORK/plain/$name.peak") b=$(tail -n 1 "$HZ_WORK/hz/$name.peak")
    printf '[%s] %-12s peak RSS: glibc %d KiB, hakozuna %d KiB (%+.1f%%)\n' "$HZ_TEST" "$name" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) * 100 / a }')"
  fi
}

# same FILE...: each FILE (relative) must be byte-identical in plain/ and hz/.
same() {
  local f
  for f in "$@"; do
    if ! cmp -s "$HZ_WORK/plain/$f" "$HZ_WORK/hz/$f"; then
      echo "--- $f differs between the plain and the preloaded run; diff hint:" >&2
      if grep -Iq . "$HZ_WORK/plain/$f" 2>/dev/null; then  # text file
        diff -u "$HZ_WORK/plain/$f" "$HZ_WORK/hz/$f" | head -n 40 >&2 || true
      else
        cmp "$HZ_WORK/plain/$f" "$HZ_WORK/hz/$f" >&2 || true
      fi
      echo "    (full files: $HZ_WORK/plain/$f vs $HZ_WORK/hz/$f)" >&2
      fail "$f is not identical with LD_PRELOAD=$HZ_LIB"
    fi
  done
}

pass() {
  echo "PASS [$HZ_TEST]"
  exit 0
}
