#!/usr/bin/env bash
# A leaky C program (leaky.c) linked with libhakozuna.a by the C driver alone
# (no -lstdc++) and run under memcheck with hakozuna's malloc kept: memcheck
# reports the leaks with their exact sizes, the read after free and the
# uninitialised byte, and nothing from hakozuna's own work.
#   memcheck_test.sh <libhakozuna.a> <include-dir> <work-dir> <c-compiler> <valgrind.supp> <leaky.c>
set -euo pipefail
ARCHIVE=${1:?usage}
INCLUDE=${2:?usage}
WORK=${3:?usage}
CC=${4:?usage}
SUPP=${5:?usage}
SRC=${6:?usage}
fail() {
  echo "FAIL [memcheck]: $*" >&2
  exit 1
}
command -v valgrind >/dev/null || { echo "SKIP [memcheck]: valgrind is not installed" >&2; exit 77; }
unset LD_PRELOAD || true
for v in $(env | grep -o '^HAKOZUNA_[A-Z_]*' || true); do unset "$v"; done
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

# The link the README gives, with the C driver: no C++ runtime needed.
"$CC" -g -O1 -fno-builtin -I"$INCLUDE" "$SRC" -o leaky \
  -Wl,--whole-archive "$ARCHIVE" -Wl,--no-whole-archive -lpthread 2>link.err ||
  { cat link.err >&2; fail "linking a C program with libhakozuna.a failed"; }
! ldd ./leaky | grep -q libstdc++ || fail "the C program needs libstdc++"

# run LOG [valgrind options]: memcheck with hakozuna's malloc kept.
run() {
  local log=$1
  shift
  valgrind --leak-check=full --soname-synonyms=somalloc=nouserintercepts "$@" --log-file="$log" ./leaky >out.txt ||
    { cat "$log" >&2; fail "leaky exited $? under valgrind"; }
  grep -q '^hakozuna [0-9]' out.txt || fail "leaky printed: $(cat out.txt)"
}
run plain.log
cat plain.log
# want LOG REGEX [COUNT]: REGEX matches COUNT lines of LOG (default 1).
want() {
  local n
  n=$(grep -cE "$2" "$1" || true)
  [[ $n == "${3:-1}" ]] || fail "$1: '$2' matched $n lines, not ${3:-1}"
}
want plain.log 'definitely lost: 1,048,768 bytes in 4 blocks'
want plain.log 'still reachable: 128 bytes in 1 blocks'
want plain.log 'Invalid read of size 1'
want plain.log 'Address 0x[0-9a-f]+ is 500 bytes inside a block of size 1,024 free.d'
want plain.log 'Conditional jump or move depends on uninitialised value' 2
want plain.log 'Invalid write|Invalid free|Mismatched|Use of uninitialised|Syscall param|unaddressable' 0
# Each reported access is the program's own (main), never hakozuna's, but
# for free()'s look at the free key of the block left uninitialised (in its
# slow path: under memcheck every free takes it).
grep -A1 -E 'Invalid read|Conditional jump' plain.log | grep -E '^==[0-9]+== +at ' >frames.txt || true
want frames.txt 'at 0x[0-9A-F]+: main \(leaky.c:' 2
want frames.txt 'at 0x[0-9A-F]+: ((hz_)?free|hz::free_span_or_invalid\(void\*, char const\*\)) \(' 1

# With hakozuna's suppressions: that look, and glibc's live thread blocks
# ("possibly lost"), are gone, and the error count is exactly the rest.
run supp.log --suppressions="$SUPP"
want supp.log 'possibly lost: 0 bytes in 0 blocks'
want supp.log 'Conditional jump or move depends on uninitialised value'
lost=$(grep -c 'are definitely lost in loss record' supp.log || true)
want supp.log "ERROR SUMMARY: $((lost + 2)) errors"
echo "PASS [memcheck]"
