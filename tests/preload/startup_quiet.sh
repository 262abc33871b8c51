#!/usr/bin/env bash
# Start-up does nothing: under LD_PRELOAD, /bin/true and a small C program make
# the same system calls as without it, plus loading libhakozuna.so alone (no
# other library), plus the arena's MAP_NORESERVE reservations once malloc is
# called; no thread, no other file.
#   startup_quiet.sh <libhakozuna.so> <work-dir> <startup_c_program>
source "$(dirname "$0")/common.sh"
require strace
PROG=${3:?program}
LIBNAME=$(basename "$HZ_LIB")

trace() {  # trace OUT STRACE-OPTION... -- CMD...: strace -f of CMD, its output discarded
  local out=$1
  shift
  strace -f -qq -o "$out" "$@" >/dev/null 2>&1 || fail "strace $* failed"
}
for what in true prog; do
  cmd=(/bin/true)
  [[ $what == prog ]] && cmd=("$PROG")
  trace "$what.plain" "${cmd[@]}"
  trace "$what.hz" -E "LD_PRELOAD=$HZ_LIB" "${cmd[@]}"
  grep -q "$LIBNAME" "$what.hz" || fail "$what: the library was not preloaded"
  ! grep -E "^[0-9]+ +(clone|clone3|fork|vfork)\(" "$what.hz" || fail "$what: a thread or process was started"
  # Files opened: the plain run's, plus the library itself.
  extra=$(sed -n 's/.*openat([^"]*"\([^"]*\)".*/\1/p' "$what.hz" | sort -u |
    comm -23 - <(sed -n 's/.*openat([^"]*"\([^"]*\)".*/\1/p' "$what.plain" | sort -u) |
    grep -v "/$LIBNAME\$" || true)
  [[ -z $extra ]] || fail "$what: opened more than the plain run: $extra"
  # Anonymous mappings other than MAP_FIXED (segments being loaded) and
  # MAP_NORESERVE (the arena reservation): as many as without the library.
  count() { grep -E "mmap\(NULL.*MAP_ANONYMOUS" "$1" | grep -vc "MAP_NORESERVE" || true; }
  plain=$(count "$what.plain")
  hz=$(count "$what.hz")
  reserve=$(grep -c "MAP_NORESERVE" "$what.hz" || true)
  echo "$what: $(grep -c '' "$what.plain") system calls plain, $(grep -c '' "$what.hz") preloaded;" \
    "anonymous mappings $plain plain, $hz preloaded, $reserve reservations"
  ((hz == plain)) || { grep mmap "$what.hz" >&2; fail "$what: anonymous mappings beyond the reservation"; }
done
pass
