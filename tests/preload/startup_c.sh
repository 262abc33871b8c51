#!/usr/bin/env bash
# A plain C program gets hakozuna without the C++ runtime: under LD_PRELOAD,
# and linked with libhakozuna.a by the C compiler (no -lstdc++). Its operator
# new, called with no C++ runtime in the process: nothrow gives nullptr,
# throwing prints one line and aborts.
#   startup_c.sh <libhakozuna.so> <work-dir> preload <startup_c_program>
#   startup_c.sh <libhakozuna.so> <work-dir> static  <cc> <libhakozuna.a> <startup_c_program.c>
source "$(dirname "$0")/common.sh"
MODE=${3:?mode}
case $MODE in
preload)
  PROG=${4:?program}
  WHERE=$(basename "$HZ_LIB")
  run() { LD_PRELOAD=$HZ_LIB "$PROG" "$@"; }
  ;;
static)
  CC=${4:?cc} ARCHIVE=${5:?libhakozuna.a} SRC=${6:?source}
  PROG=$HZ_WORK/c_static
  # --export-dynamic: so that the program finds its operator new with dlsym.
  "$CC" -O2 "$SRC" -o "$PROG" -Wl,--export-dynamic \
    -Wl,--whole-archive "$ARCHIVE" -Wl,--no-whole-archive -lpthread >link.log 2>&1 ||
    { cat link.log >&2; fail "linking libhakozuna.a into a C program failed"; }
  needed=$(readelf -d "$PROG" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  echo "C program NEEDED: $needed"
  [[ $needed != *stdc++* && $needed != *gcc_s* ]] || fail "the C program needs $needed"
  WHERE=c_static
  run() { "$PROG" "$@"; }
  ;;
*) fail "unknown mode $MODE" ;;
esac

run >blocks.out 2>blocks.err || { cat blocks.err >&2; fail "the C program failed"; }
[[ $(cat blocks.out) == ok ]] || fail "the C program printed: $(cat blocks.out)"
grep -q "^probe: malloc in .*$WHERE" blocks.err || fail "malloc is not hakozuna's: $(cat blocks.err)"
run new-nothrow >nothrow.out 2>nothrow.err || { cat nothrow.err >&2; fail "nothrow new failed"; }
[[ $(cat nothrow.out) == nullptr ]] || fail "nothrow new printed: $(cat nothrow.out)"
set +e
run new >new.out 2>new.err
rc=$?
set -e
msg="hakozuna: out of memory in operator new (no C++ runtime to throw std::bad_alloc)"
((rc == 134)) || fail "throwing new without a C++ runtime: exit $rc (want 134, SIGABRT)"
grep -qxF "$msg" new.err || fail "throwing new without a C++ runtime said: $(cat new.err)"
echo "ok; nothrow new: nullptr; throwing new: '$msg', exit $rc"
pass
