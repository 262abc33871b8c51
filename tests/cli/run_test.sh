#!/usr/bin/env bash
# hakozuna run / --version / --help: the lane's library is preloaded in front
# of an LD_PRELOAD already set (which stays loaded), the program's exit status
# and signals pass through, --stats prints the counters line, errors are clear.
#   run_test.sh <hakozuna> <work-dir> <run_probe> <extra_preload.so> <version> <c-compiler> <run_probe.c>
source "$(dirname "$0")/common.sh"
PROBE=${3:?}
EXTRA=${4:?}
VERSION=${5:?}
CC=${6:?}
PROBE_SRC=${7:?}

out=$("$HZ" --version) || fail "--version exited $?"
[[ $out == "hakozuna $VERSION" ]] || fail "--version printed '$out', want 'hakozuna $VERSION'"
"$HZ" --help >help.out || fail "--help exited $?"
for w in run profile options --lane; do grep -q -- "$w" help.out || fail "--help does not mention $w"; done

# The default lane, then every other lane --help lists.
lanes=$(sed -n 's/^lanes.*NAME: \(.*\) (default .*/\1/p' help.out)
[[ -n $lanes ]] || fail "--help lists no lanes: $(cat help.out)"
default=${lanes%% *}
for lane in $lanes; do
  lib=libhakozuna.so
  [[ $lane == "$default" ]] || lib=libhakozuna-$lane.so
  out=$("$HZ" run --lane "$lane" -- "$PROBE") || fail "run --lane $lane: exit $?"
  grep -q "^malloc=.*/$lib\$" <<<"$out" || fail "run --lane $lane: malloc is not from $lib: $out"
  echo "lane $lane: $(head -n 1 <<<"$out")"
done

# An LD_PRELOAD already set stays, behind hakozuna.
out=$(LD_PRELOAD=$EXTRA "$HZ" run -- "$PROBE") || fail "run with LD_PRELOAD set: exit $?"
grep -q "^malloc=.*/libhakozuna.so$" <<<"$out" || fail "with LD_PRELOAD set, malloc is not hakozuna's: $out"
grep -qx "extra=loaded" <<<"$out" || fail "the LD_PRELOAD already set was dropped: $out"
out=$(LD_PRELOAD=$EXTRA "$HZ" run -- sh -c 'echo "$LD_PRELOAD"')
[[ $out == */libhakozuna.so:$EXTRA ]] || fail "LD_PRELOAD composed as '$out'"
# A nested run replaces the lane instead of loading two allocators.
out=$("$HZ" run -- "$HZ" run -- sh -c 'echo "$LD_PRELOAD"')
[[ $out != *:* ]] || fail "nested run preloads two libraries: $out"

# Exit status and signals are the program's.
set +e
"$HZ" run -- "$PROBE" 7 >/dev/null
rc=$?
"$HZ" run -- sh -c 'kill -TERM $$'
rc_sig=$?
set -e
[[ $rc == 7 ]] || fail "exit status 7 came back as $rc"
[[ $rc_sig == 143 ]] || fail "a program killed by SIGTERM came back as $rc_sig, not 143"
# A signal sent to the command reaches the program (it is the program).
"$HZ" run -- "$PROBE" wait >wait.out &
pid=$!
for _ in $(seq 100); do grep -q ready wait.out 2>/dev/null && break; sleep 0.05; done
grep -q ready wait.out || fail "the waiting probe did not start"
kill -USR1 "$pid"
set +e
wait "$pid"
rc=$?
set -e
[[ $rc == $((128 + $(kill -l USR1))) ]] || fail "SIGUSR1 to the command gave status $rc"

# --stats: the one-line counters, with the version first.
"$HZ" run --stats -- "$PROBE" >/dev/null 2>stats.err || fail "run --stats failed"
grep -qE "^hakozuna: version=$VERSION alloc=[0-9]+ " stats.err || fail "run --stats printed: $(cat stats.err)"

# A program built with AddressSanitizer keeps ASan's allocator, with a word why.
if "$CC" -fsanitize=address -O1 "$PROBE_SRC" -o asan-probe -ldl 2>/dev/null; then
  out=$("$HZ" run -- ./asan-probe 2>asan.err) || fail "run of an ASan program: exit $?: $(cat asan.err)"
  grep -q "is built with AddressSanitizer, which needs its own allocator: running it without hakozuna" asan.err ||
    fail "no word about ASan: $(cat asan.err)"
  grep -q "^malloc=.*libhakozuna" <<<"$out" && fail "hakozuna was preloaded into an ASan program: $out"
  echo "asan: $(head -n 1 <<<"$out")"
else
  echo "note: no -fsanitize=address here: the ASan case is not checked"
fi

# Errors: a missing program, an unknown lane, no program.
set +e
"$HZ" run -- ./no-such-program 2>err1; rc1=$?
"$HZ" run --lane no-such-lane -- "$PROBE" 2>err2; rc2=$?
"$HZ" run 2>err3; rc3=$?
set -e
[[ $rc1 == 127 ]] && grep -q "cannot run ./no-such-program" err1 || fail "missing program: $rc1 $(cat err1)"
[[ $rc2 == 2 ]] && grep -q "no lane 'no-such-lane'" err2 || fail "unknown lane: $rc2 $(cat err2)"
[[ $rc3 == 2 ]] && grep -q "no program given" err3 || fail "no program: $rc3 $(cat err3)"
pass
