#!/usr/bin/env bash
# The test command: builds hakozuna and runs every test.
#
#   tools/test.sh           Release build in build/ (all tests: core, api, preload,
#                           install), then AddressSanitizer (build-asan/, a Debug
#                           build: the fail-fast checks at box boundaries are on) and
#                           ThreadSanitizer (build-tsan/) builds of the core tests,
#                           and the core tests in the fast and p32 lanes
#   tools/test.sh --quick   Release build only
#
# Prints a summary line per build and, as the very last line, the totals:
#   N passed, M failed
# Exits non-zero if any build or test fails.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${HZ_TEST_JOBS:-2}
QUICK=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    -h | --help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "tools/test.sh: unknown option '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()
STATUS=0
START_ALL=$SECONDS

# run_build NAME DIR CMAKE-ARGS...: configure, build, ctest; records the result.
run_build() {
  local name=$1 dir=$2
  shift 2
  local start=$SECONDS log="$ROOT/$dir/ctest.log"
  echo "==== [$name] configure: cmake -S . -B $dir $*"
  if ! cmake -S . -B "$dir" "$@"; then
    SUMMARY+=("[$name] FAILED: configure failed")
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return
  fi
  echo "==== [$name] build"
  if ! cmake --build "$dir" -j "$JOBS"; then
    SUMMARY+=("[$name] FAILED: build failed")
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return
  fi
  echo "==== [$name] ctest"
  local rc=0
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" 2>&1 | tee "$log" || rc=$?
  # ctest ends with "100% tests passed, 0 tests failed out of N" or
  # "X% tests passed, F tests failed out of N".
  local line total failed skipped passed
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -z $line ]]; then
    if grep -q "No tests were found" "$log"; then
      SUMMARY+=("[$name] FAILED: no tests were found")
    else
      SUMMARY+=("[$name] FAILED: could not read ctest's result (exit $rc)")
    fi
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  # Skipped tests (ctest "Not Run" / "Skipped") count as neither passed nor failed.
  skipped=$(grep -oE '^[[:space:]]*[0-9]+ - .*\(Skipped\)' "$log" | wc -l)
  passed=$((total - failed - skipped))
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
  local msg="[$name] $passed passed, $failed failed"
  ((skipped == 0)) || msg+=", $skipped skipped"
  msg+=" ($((SECONDS - start)) s)"
  if ((failed != 0 || rc != 0)); then
    STATUS=1
    msg+=": FAILED"
    ((failed != 0)) || msg+=" (ctest exit $rc)"
  fi
  SUMMARY+=("$msg")
}

run_build release build -DCMAKE_BUILD_TYPE=Release
if ((QUICK == 0)); then
  run_build asan build-asan -DHAKOZUNA_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug \
    -DHAKOZUNA_BUILD_BENCH=OFF
  run_build tsan build-tsan -DHAKOZUNA_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHAKOZUNA_BUILD_BENCH=OFF
  # The other lanes (8 and 255 shards): the core tests through hz_*.
  for lane in fast p32; do
    run_build "lane-$lane" "build-$lane" -DHAKOZUNA_LANE=$lane -DCMAKE_BUILD_TYPE=Release \
      -DHAKOZUNA_OVERRIDE=OFF -DHAKOZUNA_BUILD_BENCH=OFF
  done
fi

echo
echo "==== summary ($((SECONDS - START_ALL)) s)"
for s in "${SUMMARY[@]}"; do echo "$s"; done
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
exit $STATUS
