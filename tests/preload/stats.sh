#!/usr/bin/env bash
# HAKOZUNA_STATS=1 under the stats build prints exactly one "hakozuna:" line at
# exit with alloc=, free=, remote_free=, mapped=, mapped_peak=; without the
# variable nothing at all goes to stderr.
#   stats.sh <libhakozuna_stats.so> <work-dir> <stats_probe>
source "$(dirname "$0")/common.sh"
PROBE=${3:?usage: $0 <libhakozuna_stats.so> <work-dir> <stats_probe>}

# field NAME FILE: the decimal value of " NAME=<digits>" in the report line.
field() {
  local v
  v=$(grep -oE "(^|[ :])$1=[0-9]+" "$2" | head -n 1 | sed 's/.*=//') || true
  [[ -n $v ]] || fail "no numeric '$1=' in the report: $(cat "$2")"
  echo "$v"
}

check_one_line() {  # check_one_line FILE WHAT
  local lines
  lines=$(grep -c '' "$1" || true)
  if [[ $lines != 1 ]]; then
    echo "--- stderr ($1):" >&2
    cat "$1" >&2
    fail "$2: expected exactly one line on stderr, got $lines"
  fi
  grep -q '^hakozuna:' "$1" || fail "$2: the line does not start with 'hakozuna:': $(cat "$1")"
  local k
  for k in alloc free remote_free mapped mapped_peak; do
    grep -qE "[ :]$k=" "$1" || fail "$2: '$k=' missing from: $(cat "$1")"
  done
}

# 1. The probe: counters must reflect what it did.
HAKOZUNA_STATS=1 LD_PRELOAD=$HZ_LIB "$PROBE" >probe.out 2>probe.err ||
  { cat probe.err >&2; fail "probe exited non-zero under the stats library"; }
grep -qx "probe ok" probe.out || fail "probe did not print 'probe ok'"
check_one_line probe.err "probe"
echo "report: $(cat probe.err)"
alloc=$(field alloc probe.err)
free=$(field free probe.err)
remote=$(field remote_free probe.err)
mapped=$(field mapped probe.err)
peak=$(field mapped_peak probe.err)
((alloc >= 25000)) || fail "alloc=$alloc, but the probe made at least 25000 allocations"
((free >= 25000)) || fail "free=$free, but the probe freed at least 25000 blocks"
((remote >= 5000)) || fail "remote_free=$remote, but 5000 blocks were freed by a thread that did not allocate them"
((remote <= free)) || fail "remote_free=$remote exceeds free=$free"
((peak > 0)) || fail "mapped_peak=$peak"
((peak >= mapped)) || fail "mapped_peak=$peak below mapped=$mapped"

# 2. An ordinary system program.
HAKOZUNA_STATS=1 LD_PRELOAD=$HZ_LIB /bin/true 2>true.err || fail "/bin/true failed under the stats library"
check_one_line true.err "/bin/true"
HAKOZUNA_STATS=1 LD_PRELOAD=$HZ_LIB /bin/ls / >/dev/null 2>ls.err || fail "/bin/ls failed under the stats library"
check_one_line ls.err "/bin/ls"

# 2b. The report's private copy of stderr is fd 100 or above: a program that
# puts a file of its own there (bash `exec 100>file`, dup2) must find only
# its own data in it (the report went into the program's file).
HAKOZUNA_STATS=1 LD_PRELOAD=$HZ_LIB bash -c 'exec 100>fd100.txt; echo "user data" >&100' 2>fd100.err ||
  fail "bash with fd 100 failed under the stats library"
[[ $(cat fd100.txt) == "user data" ]] || fail "the report went into the program's fd 100: $(cat fd100.txt)"
grep -q '^hakozuna:' fd100.err || fail "no report on stderr with fd 100 taken: $(cat fd100.err)"
# And a program that puts a file on the copy itself (with dup2): the report
# goes to stderr, not into the file.
HAKOZUNA_STATS=1 LD_PRELOAD=$HZ_LIB "$PROBE" taken.txt >taken.out 2>taken.err ||
  fail "the probe failed taking the copy of stderr"
grep -qx "took [1-9][0-9]*" taken.out || fail "no copy of stderr at 100 or above to take: $(cat taken.out)"
! grep -q hakozuna taken.txt || fail "the report went into the program's file: $(cat taken.txt)"
check_one_line taken.err "probe over the copy of stderr"
# A program started with stderr closed: the file it opens gets fd 2, and the
# report must not go there (there is no stderr to report to).
HAKOZUNA_STATS=1 LD_PRELOAD=$HZ_LIB "$PROBE" own own.txt >own.out 2>&- || fail "the probe failed with stderr closed"
grep -qx "own fd 2" own.out || fail "the probe's file did not get fd 2: $(cat own.out)"
[[ $(cat own.txt) == "own data" ]] || fail "the report went into the file on fd 2: $(cat own.txt)"

# 3. Without HAKOZUNA_STATS (or with it set to 0): stderr stays empty.
for setting in unset 0; do
  if [[ $setting == unset ]]; then
    LD_PRELOAD=$HZ_LIB "$PROBE" >quiet.out 2>quiet.err || fail "probe failed without HAKOZUNA_STATS"
  else
    HAKOZUNA_STATS=0 LD_PRELOAD=$HZ_LIB "$PROBE" >quiet.out 2>quiet.err || fail "probe failed with HAKOZUNA_STATS=0"
  fi
  if [[ -s quiet.err ]]; then
    cat quiet.err >&2
    fail "stderr is not empty with HAKOZUNA_STATS $setting"
  fi
  grep -qx "probe ok" quiet.out || fail "probe output wrong with HAKOZUNA_STATS $setting"
done
LD_PRELOAD=$HZ_LIB /bin/true 2>quiet.err
[[ ! -s quiet.err ]] || fail "/bin/true printed on stderr without HAKOZUNA_STATS: $(cat quiet.err)"
pass
