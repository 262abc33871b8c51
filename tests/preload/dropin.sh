#!/usr/bin/env bash
# One drop-in case of dropin_probe, under LD_PRELOAD and linked; see
# dropin_probe.cpp for what each case does.
#   dropin.sh <libhakozuna.so> <work-dir> <probe> <probe-linked> <case>
source "$(dirname "$0")/common.sh"
PROBE=${3:?}
LINKED=${4:?}
CASE=${5:?}

# run MODE CMD...: bounded by a timeout (a hang is a failure, not a stall).
run() {
  local mode=$1 rc=0
  shift
  timeout -k 5 60 "$@" >"$CASE.$mode.out" 2>"$CASE.$mode.err" || rc=$?
  echo "$rc"
}

for mode in preload linked; do
  if [[ $mode == preload ]]; then
    cmd=(env LD_PRELOAD="$HZ_LIB" "$PROBE" "$CASE")
  else
    cmd=("$LINKED" "$CASE")
  fi
  case $CASE in
    threads) cmd=(env DROPIN_EXPECT_PURGER=1 "${cmd[@]}") ;;
    fork_in_signal_purger) cmd=(env DROPIN_EXPECT_PURGER=1 HAKOZUNA_PURGE_DELAY_MS=4 "${cmd[@]}") ;;
  esac
  rc=$(run "$mode" "${cmd[@]}")
  out=$(cat "$CASE.$mode.out")
  err=$(cat "$CASE.$mode.err")
  case $CASE in
    double_free_exit)
      [[ $rc != 124 && $rc != 137 ]] || fail "$mode: hung (killed by the timeout)"
      [[ $rc == 134 ]] || fail "$mode: expected abort (134), got exit $rc: $out $err"
      grep -qE '^hakozuna: (heap corruption detected|free\(\): double free)' "$CASE.$mode.err" ||
        fail "$mode: no 'hakozuna: heap corruption detected' line: $err"
      echo "$mode: $(head -n 1 "$CASE.$mode.err")"
      ;;
    *)
      [[ $rc == 0 ]] || fail "$mode: exit $rc: $out $err"
      grep -qx "$CASE ok" "$CASE.$mode.out" || fail "$mode: no '$CASE ok': $out $err"
      [[ -z $err ]] || fail "$mode: unexpected stderr: $err"
      echo "$mode: $out"
      ;;
  esac
done
pass
