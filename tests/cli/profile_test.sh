#!/usr/bin/env bash
# hakozuna profile on a program with known figures (profile_probe.c): the
# counts, the remote share overall and per size, the peak live bytes and
# their sizes, the threads and the reading; the program's output and exit
# status are unchanged; a signal sent to the command reaches the program; -o
# writes the plot.
#   profile_test.sh <hakozuna> <work-dir> <profile_probe> <run_probe>
source "$(dirname "$0")/common.sh"
PROBE=${3:?}
WAITER=${4:?}

"$PROBE" 5 >plain.out && rc=0 || rc=$?
[[ $rc == 5 ]] || fail "the probe alone exited $rc"
"$HZ" profile -- "$PROBE" 5 >prof.out 2>report.txt && rc=0 || rc=$?
cat report.txt
[[ $rc == 5 ]] || fail "exit status 5 came back as $rc"
cmp -s plain.out prof.out || fail "the program printed '$(cat prof.out)' profiled, '$(cat plain.out)' alone"

# first_number REGEX: the first number (commas dropped) on the first line matching REGEX.
first_number() {
  local v
  v=$(grep -m1 -E "$1" report.txt | sed -E 's/^[^0-9]*([0-9][0-9,.]*).*/\1/; s/,//g') || true
  [[ -n $v ]] || fail "no line matching '$1' in the report"
  echo "$v"
}
# in_range NAME VALUE LOW HIGH
in_range() {
  (($2 >= $3 && $2 <= $4)) || fail "$1 is $2, expected $3..$4"
  echo "ok: $1 = $2"
}
# The probe's own blocks, plus the few that libc and the loader allocate.
in_range allocations "$(first_number '^  allocations ')" 10001 10100
in_range frees "$(first_number '^  frees ')" 10001 10100
in_range "remote frees" "$(first_number '^  remote frees ')" 6000 6010
grep -qE '^  remote frees .*\((59\.[5-9]|60\.[0-4])% of frees' report.txt || fail "remote share is not 60%"
# Per size: 48 B blocks 75% remote; 1000 B (class 1 KiB) none.
grep -qE '^  <= 64 B +[0-9,]+ +[0-9.]+% +7[45]\.[0-9]%' report.txt || fail "the <= 64 B row is not 75% remote"
grep -qE '^  <= 1 KiB +2,00[0-9] +[0-9.]+% +0\.0%' report.txt || fail "the <= 1 KiB row: 2000 allocations, 0% remote"
grep -qE '^  1 MiB-2 MiB +1 ' report.txt || fail "no 1 MiB-2 MiB row with one allocation"
# Peak live 4,004,864 B = 3.8 MiB: 48 B blocks 375 KiB, 1 KiB blocks 2.0 MiB, the span 1.5 MiB.
grep -qE '^  peak live +3\.8 MiB' report.txt || fail "peak live is not 3.8 MiB"
grep -qE '^  <= 64 B .* 37[4-6] KiB +9\.[0-9]%$' report.txt || fail "<= 64 B live at peak is not 375 KiB"
grep -qE '^  <= 1 KiB .* 2\.0 MiB +5[12]\.[0-9]%$' report.txt || fail "<= 1 KiB live at peak is not 2.0 MiB"
grep -qE '^  1 MiB-2 MiB .* 1\.5 MiB +39\.[0-9]%$' report.txt || fail "the span's live at peak is not 1.5 MiB"
grep -qE '^  threads +2 used the allocator, at most 2 at once, 1 still alive at exit' report.txt ||
  fail "threads line wrong"
grep -qE '^  lifetimes +of the 1 that ended: +< (1|10|100) ms: 1$' report.txt || fail "lifetime line wrong"
grep -qE '^  peak mapped ' report.txt || fail "no peak mapped line"
grep -qE '^60% of frees are remote, 100% of them <= 256 B' report.txt || fail "the reading does not start with the remote share"

# A signal sent to the command reaches the program; the command ends as it did.
"$HZ" profile -- "$WAITER" wait >wait.out 2>wait.err &
pid=$!
for _ in $(seq 100); do grep -q ready wait.out 2>/dev/null && break; sleep 0.05; done
grep -q ready wait.out || fail "the waiting probe did not start"
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
[[ $rc == 143 ]] || fail "SIGTERM to hakozuna profile gave status $rc, not 143"
grep -q "wrote no profile" wait.err || fail "a program killed by a signal: $(cat wait.err)"

# The plot, where matplotlib is installed.
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  for ext in svg png html; do
    "$HZ" profile -o "plot.$ext" -- "$PROBE" >/dev/null 2>plot.err || fail "-o plot.$ext failed: $(cat plot.err)"
    [[ -s plot.$ext ]] || fail "-o plot.$ext wrote nothing: $(cat plot.err)"
  done
  grep -q '<svg' plot.svg || fail "plot.svg is not SVG"
  grep -q '<svg' plot.html && grep -q 'remote frees' plot.html || fail "plot.html lacks the plot or the report"
  [[ $(head -c 4 plot.png | tail -c 3) == PNG ]] || fail "plot.png is not a PNG"
  echo "ok: plots"
else
  echo "note: python3-matplotlib not installed: -o not checked"
fi
set +e
"$HZ" profile -o plot.pdf -- "$PROBE" 2>bad.err
rc=$?
set -e
[[ $rc == 2 ]] && grep -q "html, .svg or .png" bad.err || fail "-o plot.pdf: $rc $(cat bad.err)"
pass
