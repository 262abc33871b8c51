#!/usr/bin/env bash
# The shared libraries need libc.so.6 and nothing else (no libstdc++, libm,
# libgcc_s loaded into every process), every strong undefined symbol comes from
# glibc, and every operator new/delete form is exported.
#   startup_needed.sh <libhakozuna.so> <work-dir> [<other .so>...]
source "$(dirname "$0")/common.sh"
require readelf nm
shift 2
for lib in "$HZ_LIB" "$@"; do
  name=$(basename "$lib")
  needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  echo "$name NEEDED: $needed"
  [[ $needed == "libc.so.6 " ]] || fail "$name: NEEDED must be exactly libc.so.6, got: $needed"
  # Strong undefined symbols without a GLIBC version would have to come from
  # elsewhere (weak ones, like std::get_new_handler, may stay unresolved).
  foreign=$(nm -D --undefined-only "$lib" | awk '$1 == "U" && $2 !~ /@GLIBC_/ {print $2}' | tr '\n' ' ')
  [[ -z $foreign ]] || fail "$name: undefined symbols not from glibc: $foreign"
  forms=$(nm -D --defined-only "$lib" | awk '$3 ~ /^_Z(nw|na|dl|da)/ {print $3}' | sort -u | wc -l)
  echo "$name exports $forms operator new/delete forms"
  ((forms == 20)) || fail "$name: expected the 20 operator new/delete forms exported, got $forms"
done
pass
