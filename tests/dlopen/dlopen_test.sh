#!/usr/bin/env bash
# dlopen() of the library by a process that did not preload it:
#   dlopen_test.sh <dlopen_probe> <library> initial-exec|dynamic
# dynamic: the library has no static TLS (no DF_STATIC_TLS) and a dlopen()ed
# copy serves several threads. initial-exec: the library uses static TLS (the
# fast paths' one load from the thread pointer), and a dlopen either works or
# fails with glibc's "cannot allocate memory in static TLS block", the case
# -DHAKOZUNA_TLS=dynamic exists for.
set -euo pipefail
PROBE=${1:?usage}
LIB=${2:?usage}
MODEL=${3:?usage}
fail() {
  echo "FAIL [dlopen $MODEL]: $*" >&2
  exit 1
}
unset LD_PRELOAD || true
static_tls=no
readelf -d "$LIB" | grep -qE 'FLAGS.*STATIC_TLS' && static_tls=yes
out=$("$PROBE" "$LIB") && rc=0 || rc=$?
echo "$(basename "$LIB"): static TLS $static_tls; dlopen + 4 threads: $out"
if [[ $MODEL == dynamic ]]; then
  [[ $static_tls == no ]] || fail "the library still uses static TLS (DF_STATIC_TLS)"
  [[ $rc == 0 && $out == ok ]] || fail "exit $rc: $out"
else
  [[ $static_tls == yes ]] || fail "the library does not use initial-exec TLS"
  [[ $rc == 0 && $out == ok ]] || [[ $rc == 3 && $out == *"cannot allocate memory in static TLS block"* ]] ||
    fail "exit $rc: $out"
fi
echo "PASS [dlopen $MODEL]"
