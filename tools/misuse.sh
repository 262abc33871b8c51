#!/usr/bin/env bash
# Heap-misuse suite (tests/misuse/): builds the case programs and runs every
# case, one process each, under LD_PRELOAD of each allocator; prints a
# category x allocator table of caught/total and writes a per-case CSV.
#
#   tools/misuse.sh [options] [ALLOCATOR...]
#
# ALLOCATOR is glibc (no preload), hakozuna, hardened_malloc, mimalloc,
# jemalloc, tcmalloc or NAME=/path/to/lib.so. Default: glibc, hakozuna and
# every peer found (../shared/peers/, Debian's packages); a missing peer is
# skipped with a note.
#
#   --hz PATH        the libhakozuna.so to test (default build/libhakozuna.so;
#                    if it does not exist, a Release build in build-misuse-hz/)
#   --expect FILE    test mode: run the cases FILE lists (one a line, # comments)
#                    under hakozuna alone; exit 1 if any is not caught
#   --cases REGEX    only the cases whose name matches (grep -E)
#   --timeout SEC    per case, default 5; a hang counts as not caught
#   --build-dir DIR  programs and results (default build-misuse/)
#   --csv FILE       per-case results (default BUILD_DIR/misuse.csv)
#   -v               one line per case
#
# A case is caught when it dies by a signal before the misuse completes
# (corruption cases) or when it prints CAUGHT (properties: impossible sizes
# fail cleanly, freed data is not readable, no immediate reuse, no executable
# heap). See tests/misuse/misuse.h and docs/security.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIBDIR=/usr/lib/x86_64-linux-gnu
HZ=""
EXPECT=""
FILTER=""
TIMEOUT=5
BUILD=$ROOT/build-misuse
CSV=""
VERBOSE=0
WANT=()

while (($#)); do
  case $1 in
    --hz) HZ=$2; shift ;;
    --expect) EXPECT=$2; shift ;;
    --cases) FILTER=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --csv) CSV=$2; shift ;;
    -v) VERBOSE=1 ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "misuse.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) WANT+=("$1") ;;
  esac
  shift
done
mkdir -p "$BUILD" || exit 2
BUILD=$(cd "$BUILD" && pwd)
CSV=${CSV:-$BUILD/misuse.csv}

# ---- build the case programs (plain compiler calls; rebuilt when a source is newer) ----
# -O1 with -fno-builtin: malloc, free and memcpy stay real calls; the cases
# hide their pointers from the optimiser (opaque() in misuse.h) and the
# warnings about the misuse itself are off.
FLAGS=(-O1 -g -fno-builtin -U_FORTIFY_SOURCE -pthread -Wall -Wextra -Wno-unused-parameter
  -Wno-free-nonheap-object -Wno-use-after-free -Wno-alloc-size-larger-than)
SRC=$ROOT/tests/misuse
build_one() {  # build_one OUT COMPILER STD SOURCE [FLAGS...]
  local out=$BUILD/$1 cc=$2 std=$3 src=$4
  shift 4
  if [[ -x $out && $out -nt $src && $out -nt $SRC/misuse.h ]]; then return 0; fi
  "$cc" "$std" "${FLAGS[@]}" "$@" "$src" -o "$out" || { echo "misuse.sh: build of $src failed" >&2; exit 2; }
}
build_one misuse_c "${CC:-cc}" -std=gnu11 "$SRC/misuse.c"
build_one misuse_cxx "${CXX:-c++}" -std=c++20 "$SRC/misuse_cxx.cpp" -Wno-mismatched-new-delete

# All cases: "name category mode program".
CASES=$(for p in misuse_c misuse_cxx; do "$BUILD/$p" --list | sed "s|\$| $p|"; done) || exit 2

# ---- allocators ----
hz_lib() {
  if [[ -n $HZ ]]; then echo "$HZ"; return; fi
  if [[ -e $ROOT/build/libhakozuna.so ]]; then echo "$ROOT/build/libhakozuna.so"; return; fi
  local dir=$ROOT/build-misuse-hz
  if [[ ! -e $dir/libhakozuna.so ]]; then
    echo "misuse.sh: no build/libhakozuna.so; building it in $dir" >&2
    { cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DHAKOZUNA_BUILD_BENCH=OFF \
        -DHAKOZUNA_BUILD_TESTS=OFF && cmake --build "$dir" -j 2 --target hakozuna; } >&2 || return 1
  fi
  echo "$dir/libhakozuna.so"
}

NAMES=()
LIBS=()
add_alloc() {  # add_alloc NAME|NAME=PATH [quiet]: a missing library is skipped with a note
  local name=$1 lib=""
  case $name in
    *=*) lib=${name#*=}; name=${name%%=*} ;;
    glibc) ;;
    hakozuna) lib=$(hz_lib) || { echo "misuse.sh: could not build hakozuna" >&2; exit 2; } ;;
    hardened_malloc) lib=$ROOT/../shared/peers/libhardened_malloc.so ;;
    mimalloc) lib=$LIBDIR/libmimalloc.so.2 ;;
    jemalloc) lib=$LIBDIR/libjemalloc.so.2 ;;
    tcmalloc) lib=$LIBDIR/libtcmalloc_minimal.so.4 ;;
    *) echo "misuse.sh: unknown allocator '$name' (use NAME=PATH)" >&2; exit 2 ;;
  esac
  if [[ -n $lib && ! -e $lib ]]; then
    [[ ${2:-} == quiet ]] || echo "misuse.sh: skipping $name: $lib not found" >&2
    return
  fi
  [[ -z $lib ]] || lib=$(realpath "$lib")
  NAMES+=("$name")
  LIBS+=("$lib")
}

if [[ -n $EXPECT ]]; then
  [[ -r $EXPECT ]] || { echo "misuse.sh: cannot read $EXPECT" >&2; exit 2; }
  ((${#WANT[@]} == 0)) || { echo "misuse.sh: --expect tests hakozuna alone" >&2; exit 2; }
  add_alloc hakozuna
  EXPECTED=$(sed 's/#.*//' "$EXPECT" | tr -s ' \t' '\n' | sed '/^$/d')
  for c in $EXPECTED; do
    grep -q "^$c " <<<"$CASES" || { echo "misuse.sh: $EXPECT names unknown case '$c'" >&2; exit 2; }
  done
  CASES=$(awk 'NR == FNR { want[$1] = 1; next } $1 in want' <(echo "$EXPECTED") <(echo "$CASES"))
elif ((${#WANT[@]} == 0)); then
  for a in glibc hakozuna hardened_malloc mimalloc jemalloc tcmalloc; do add_alloc $a quiet; done
else
  for a in "${WANT[@]}"; do add_alloc "$a"; done
fi
if [[ -n $FILTER ]]; then CASES=$(awk -v re="$FILTER" '$1 ~ re' <<<"$CASES"); fi
[[ -n $CASES ]] || { echo "misuse.sh: no case selected" >&2; exit 2; }

# ---- run ----
ulimit -c 0  # the cases crash on purpose
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run_case PROGRAM CASE MODE LIB: sets RESULT (caught | not_caught | hang |
# error), STATUS (how the process ended), WHY (its verdict or first stderr line).
run_case() {
  local prog=$1 name=$2 mode=$3 lib=$4 rc verdict
  # env inside timeout: only the case runs with the allocator preloaded. The
  # outer 2>/dev/null drops bash's own "Segmentation fault" notices.
  { timeout -k 2 "$TIMEOUT" env ${lib:+LD_PRELOAD=$lib} "$BUILD/$prog" "$name" \
    >"$TMP/out" 2>"$TMP/err" </dev/null; } 2>/dev/null
  rc=$?
  verdict=$(grep -m1 -E '^(CAUGHT|NOT CAUGHT|SETUP FAILED)' "$TMP/out")
  if ((rc == 124 || rc == 137)); then
    STATUS=timeout
  elif ((rc > 128)); then
    STATUS=SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))
  else
    STATUS="exit $rc"
  fi
  case $verdict in
    "CAUGHT"*) RESULT=caught ;;
    "NOT CAUGHT"*) RESULT=not_caught ;;
    "SETUP FAILED"*) RESULT=error ;;
    *)
      if [[ $STATUS == timeout ]]; then
        RESULT=hang
      elif [[ $mode == signal && $rc != 0 ]]; then
        RESULT=caught  # stopped before the misuse went through
      else
        RESULT=not_caught  # a clean-mode case crashed, or no verdict at all
      fi
      ;;
  esac
  # A verdict and then a hang (at exit, typically) is marked as a hang too.
  [[ $STATUS == timeout && $RESULT == not_caught ]] && RESULT=hang
  WHY=${verdict:-$(head -n 1 "$TMP/err")}  # e.g. "hakozuna: free(): invalid pointer 0x..."
  WHY=$(tr ',\r' '; ' <<<"$WHY" | cut -c 1-160)
}

echo "case,category,allocator,result,status,detail" >"$CSV"
FAILED=()
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} lib=${LIBS[$i]}
  echo "misuse.sh: $name (${lib:-no preload}): $(wc -l <<<"$CASES") cases" >&2
  while read -r c cat mode prog; do
    run_case "$prog" "$c" "$mode" "$lib"
    echo "$c,$cat,$name,$RESULT,$STATUS,$WHY" >>"$CSV"
    ((VERBOSE == 0)) || printf '  %-40s %-10s %-12s %s\n' "$c" "$RESULT" "$STATUS" "$WHY"
    [[ $RESULT == caught ]] || FAILED+=("$c: $RESULT ($STATUS) $WHY")
  done <<<"$CASES"
done

if [[ -n $EXPECT ]]; then
  total=$(wc -l <<<"$CASES")
  for f in "${FAILED[@]}"; do echo "NOT CAUGHT: $f"; done
  echo "misuse.expect: $((total - ${#FAILED[@]})) of $total expected cases caught by ${LIBS[0]}"
  ((${#FAILED[@]} == 0))
  exit
fi

# ---- table: category x allocator, caught/total (hangs counted as not caught);
# the SIGABRT row tells checks that fired from crashes (SIGSEGV) ----
awk -F, -v names="${NAMES[*]}" '
  NR == 1 { next }
  !($2 in seen) { seen[$2] = 1; cats[++nc] = $2 }
  { total[$2, $3]++; all[$3]++ }
  $4 == "caught" { caught[$2, $3]++; sum[$3]++ }
  $4 == "hang" { hang[$3]++ }
  $4 == "caught" && $5 == "SIGABRT" { abrt[$3]++ }  # an abort: a check fired, usually with a message
  END {
    na = split(names, a, " ")
    printf "%-16s", "category"; for (j = 1; j <= na; j++) printf " %15s", a[j]; printf "\n"
    for (i = 1; i <= nc; i++) {
      printf "%-16s", cats[i]
      for (j = 1; j <= na; j++) printf " %15s", (caught[cats[i], a[j]] + 0) "/" total[cats[i], a[j]]
      printf "\n"
    }
    printf "%-16s", "TOTAL"; for (j = 1; j <= na; j++) printf " %15s", (sum[a[j]] + 0) "/" all[a[j]]; printf "\n"
    printf "%-16s", "(by SIGABRT)"; for (j = 1; j <= na; j++) printf " %15s", abrt[a[j]] + 0; printf "\n"
    printf "%-16s", "(hangs)"; for (j = 1; j <= na; j++) printf " %15s", hang[a[j]] + 0; printf "\n"
  }' "$CSV"
echo "per-case results: $CSV"
