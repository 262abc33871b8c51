#!/usr/bin/env bash
# The test command: builds hakozuna and runs every test.
#
#   tools/test.sh           Release build in build/ (all tests: core, api, preload,
#                           install), then AddressSanitizer (build-asan/, a Debug
#                           build: the fail-fast checks at box boundaries are on) and
#                           ThreadSanitizer (build-tsan/) builds of the core tests,
#                           the core tests in the fast and p32 lanes, and the
#                           release suite (less the groups no lane or hardening
#                           changes) in the r90 lane (build-r90/) and in the
#                           hardened build (build-hardened/), then a short
#                           libFuzzer run against a model (tests/fuzz/, build-fuzz/)
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
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
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
# The project is the top level one, or $SRC when set (SRC=tests/fuzz run_build ...);
# $TARGETS and $TESTS, when set, build only those targets and run only the
# tests matching that regular expression; $SKIP, when set, leaves out the
# tests matching it.
run_build() {
  local name=$1 dir=$2
  shift 2
  local start=$SECONDS log="$ROOT/$dir/ctest.log"
  echo "==== [$name] configure: cmake -S ${SRC:-.} -B $dir $*"
  if ! cmake -S "${SRC:-.}" -B "$dir" "$@"; then
    SUMMARY+=("[$name] FAILED: configure failed")
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return
  fi
  echo "==== [$name] build"
  # shellcheck disable=SC2086 # TARGETS is a list
  if ! cmake --build "$dir" -j "$JOBS" ${TARGETS:+--target $TARGETS}; then
    SUMMARY+=("[$name] FAILED: build failed")
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return
  fi
  echo "==== [$name] ctest"
  local rc=0
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" ${TESTS:+-R "$TESTS"} ${SKIP:+-E "$SKIP"} 2>&1 | tee "$log" || rc=$?
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
  # The page-level remote lane (HZ_REMOTE_LITE): every test the release build
  # runs (core, api, budget, preload, install), since it changes who frees what,
  # but three groups that test what no lane changes: the address-space limit
  # tests (the arena's reservation), the idle.* programs (the purger's signal
  # and take-over machinery against hostile programs; the IdleReturn.* tests
  # of what it takes still run) and valgrind (single-threaded: no remote free). Neither this row nor the hardened one
  # builds the other lanes' libraries (hakozuna run --lane): the release row
  # tests those.
  SKIP='^(preload\.rlimit|idle|valgrind|static\.Idle[A-Za-z]*)\.' run_build lane-r90 build-r90 -DHAKOZUNA_LANE=r90 -DCMAKE_BUILD_TYPE=Release \
    -DHAKOZUNA_BUILD_BENCH=OFF -DHAKOZUNA_RUN_LANES=OFF
  # ... and its lock-free run lists and run queue under both sanitizers (the
  # asan/tsan builds above are of the default lane, where they compile away).
  for san in address thread; do
    TARGETS="run_remote_test remote_free_test mpsc_list_test" TESTS="^(RunRemote|RemoteFree|MpscList)\." \
      run_build "r90-$san" "build-r90-$san" -DHAKOZUNA_LANE=r90 -DHAKOZUNA_SANITIZE=$san \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHAKOZUNA_BUILD_BENCH=OFF
  done
  # The hardened build (canaries, zeroing, quarantine, guard pages): every
  # test the release build runs but the idle.* programs and the static-link
  # copies of the idle tests (as in lane-r90), fork_in_signal_purger (no
  # large keep there, so no purger beside a single-threaded program), and its
  # own checks (hardened_test).
  SKIP='^(idle\.|static\.Idle[A-Za-z]*\.|preload\.dropin\.fork_in_signal_purger$)' run_build hardened build-hardened -DHAKOZUNA_HARDENED=ON -DCMAKE_BUILD_TYPE=Release \
    -DHAKOZUNA_BUILD_BENCH=OFF -DHAKOZUNA_RUN_LANES=OFF
  # The hz_* API fuzzed against a shadow model: the committed corpus, then a
  # fixed-seed mutation run. Its own project, since libFuzzer needs clang.
  SRC=tests/fuzz run_build fuzz build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
fi

echo
echo "==== summary ($((SECONDS - START_ALL)) s)"
for s in "${SUMMARY[@]}"; do echo "$s"; done
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
exit $STATUS
