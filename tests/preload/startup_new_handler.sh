#!/usr/bin/env bash
# Failing operator new in every form (std::bad_alloc, the new-handler, nothrow,
# aligned) behaves exactly as with the C++ runtime's own operator new: the
# probe's stdout is byte-identical to the run without hakozuna, and hakozuna
# really is the allocator that answered.
#   startup_new_handler.sh <libhakozuna.so> <work-dir> preload <probe>
#   startup_new_handler.sh <libhakozuna.so> <work-dir> static  <probe> <probe linked with libhakozuna.a>
#   startup_new_handler.sh <libhakozuna.so> <work-dir> module  <probe> <C program> <probe module>
source "$(dirname "$0")/common.sh"
MODE=${3:?mode}
PROBE=${4:?probe}

# expect_in FILE WHAT WHERE: the probe's "probe: WHAT in <path>" names WHERE.
expect_in() {
  grep -q "^probe: $2 in .*$3" "$1" || { cat "$1" >&2; fail "$2 is not in $3 ($1)"; }
}

case $MODE in
preload)
  run_pair probe "$PROBE"
  same probe.out
  expect_in "$HZ_WORK/plain/probe.err" "operator new" "libstdc++"
  expect_in "$HZ_WORK/hz/probe.err" "operator new" "$(basename "$HZ_LIB")"
  expect_in "$HZ_WORK/hz/probe.err" malloc "$(basename "$HZ_LIB")"
  ;;
static)
  STATIC=${5:?static probe}
  mkdir -p plain hz
  "$PROBE" >plain/probe.out 2>plain/probe.err || fail "the probe failed: $(cat plain/probe.err)"
  "$STATIC" >hz/probe.out 2>hz/probe.err || { cat hz/probe.err >&2; fail "the static probe failed"; }
  same probe.out
  expect_in hz/probe.err "operator new" "$(basename "$STATIC")"
  expect_in hz/probe.err malloc "$(basename "$STATIC")"
  ;;
module)
  # A C program dlopens the probe RTLD_LOCAL: its libstdc++ is not in the
  # global scope, where hakozuna's operator new looks first.
  CPROG=${5:?C program}
  MODULE=${6:?probe module}
  "$PROBE" >probe-main.out 2>/dev/null || fail "the probe failed"
  run_pair probe "$CPROG" module "$MODULE"
  same probe.out
  cmp -s probe-main.out plain/probe.out || fail "the module's output differs from the probe's"
  expect_in "$HZ_WORK/hz/probe.err" "operator new" "$(basename "$HZ_LIB")"
  ;;
*) fail "unknown mode $MODE" ;;
esac
grep -c "threw\|returned" "$HZ_WORK/hz/probe.out" | sed 's/$/ failing forms checked/'
pass
