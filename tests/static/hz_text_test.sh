#!/usr/bin/env bash
# libhakozuna.a's code is one section, hz_text, in any program that links it
# (cmake/text_section.cmake): idle return counts only that range as ours.
#   hz_text_test.sh <libhakozuna.a> <work-dir> <c++ compiler> <user_atomics.cpp> [sanitizer]
# 1. the archive has no .text* section left, and no weak hidden function
#    under its own name (an unoptimised build's std::atomic<bool>::load: a
#    program's copy would be linked in its place, outside hz_text);
# 2. a -O0 program with its own copies of such functions, linked before the
#    archive: every function of the archive lies in [__start_hz_text, __stop_hz_text).
set -euo pipefail
LIB=$1 WORK=$2 CXX=$3 SRC=$4 SAN=${5:-}
fail() { echo "FAIL [hz_text]: $*" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"

left=$(objdump -h "$LIB" | awk '$2 ~ /^\.text/ {print $2}' | sort -u)
[[ -z $left ]] || fail "sections not renamed to hz_text: $left"
weak=$(readelf -sW "$LIB" | awk '$4 == "FUNC" && $5 == "WEAK" && $6 == "HIDDEN" && $7 != "UND" && $8 !~ /^_hz_own\./ {print $8}' | sort -u)
[[ -z $weak ]] || fail "weak hidden functions under their own names: $(echo $weak | head -c 400)"
echo "archive: code in hz_text only; $(readelf -sW "$LIB" | grep -c '_hz_own\.' || true) weak functions renamed"

flags=(-O0)
[[ -n $SAN ]] && flags+=(-fsanitize="$SAN")
"$CXX" "${flags[@]}" -c "$SRC" -o user.o
"$CXX" "${flags[@]}" user.o -Wl,--whole-archive "$LIB" -Wl,--no-whole-archive -lpthread -ldl -o prog
./prog >out.txt || fail "the program failed"
# Functions the archive defines (T, t, W), by name, against their place in prog.
nm --defined-only "$LIB" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TtW]$/ {print $3}' | sort -u >ours.txt
nm -t d -S --defined-only prog | awk 'NF == 4 {print $1, $2, $3, $4} NF == 3 {print $1, 0, $2, $3}' >prog.txt
awk 'NR == FNR { ours[$1] = 1; next }
     $4 == "__start_hz_text" { s = $1 + 0 } $4 == "__stop_hz_text" { e = $1 + 0 }
     ($3 ~ /^[TtW]$/) && ($4 in ours) { a[$4] = $1 + 0; z[$4] = $2 + 0 }
     END {
       if (!s || !e) { print "no __start_hz_text/__stop_hz_text in the program"; exit 1 }
       for (n in a) { total++; if (a[n] < s || a[n] + z[n] > e) { bad++; if (bad <= 10) print "outside hz_text: " n } }
       printf "%d of the archive'\''s functions in prog, %d outside hz_text\n", total, bad
       exit bad > 0 || total == 0
     }' ours.txt prog.txt || fail "some of our code lies outside hz_text"
echo "PASS [hz_text]"
