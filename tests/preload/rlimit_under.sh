#!/usr/bin/env bash
# rlimit_under.sh LIB WORK KBYTES SCRIPT [ARGS...]: runs another preload test
# script with RLIMIT_AS lowered (`ulimit -v KBYTES`) for it and everything it
# starts, the plain glibc runs included, so both runs see the same limit.
set -euo pipefail
lib=$1 work=$2 kb=$3 script=$4
shift 4
ulimit -v "$kb" || { echo "SKIP [rlimit_under]: cannot set ulimit -v $kb" >&2; exit 77; }
exec bash "$(dirname "$0")/$script" "$lib" "$work" "$@"
