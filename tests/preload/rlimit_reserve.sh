#!/usr/bin/env bash
# The arena reservation (HAKOZUNA_VERBOSE=1 prints it): with RLIMIT_AS
# unlimited the whole default (256 GiB) is reserved at once, as always; under
# `ulimit -v` only a part of what is left, and `ls` still works as on glibc.
source "$(dirname "$0")/common.sh"
require ls

reserved() {  # reserved KBYTES|unlimited [VAR=VALUE...]: prints the reservation line
  local kb=$1
  shift
  (ulimit -v "$kb" && env "$@" HAKOZUNA_VERBOSE=1 LD_PRELOAD="$HZ_LIB" ls / 2>&1 >/dev/null) |
    grep '^hakozuna: arena reserved' || true
}

if [[ $(ulimit -Hv) == unlimited ]]; then
  line=$(reserved unlimited)
  echo "unlimited: $line"
  [[ $line == "hakozuna: arena reserved 274877906944 (limit 274877906944)" ]] ||
    fail "with RLIMIT_AS unlimited, expected the default 256 GiB reservation, got '$line'"
  line=$(reserved unlimited HAKOZUNA_ARENA_SIZE=384M)
  echo "unlimited, 384M: $line"
  [[ $line == "hakozuna: arena reserved 274877906944 (limit 402653184)" ]] ||
    fail "with HAKOZUNA_ARENA_SIZE=384M, expected 256 GiB reserved, limit 384 MiB, got '$line'"
fi

hard=$(ulimit -Hv)
for kb in 800000 2000000; do
  [[ $hard == unlimited ]] || ((kb <= hard)) || continue
  line=$(reserved "$kb")
  echo "ulimit -v $kb: $line"
  bytes=$(sed -n 's/^hakozuna: arena reserved \([0-9]*\) .*/\1/p' <<<"$line")
  [[ -n $bytes ]] || fail "ulimit -v $kb: no reservation line"
  ((bytes <= kb * 1024 / 2 && bytes >= 8 << 20)) ||
    fail "ulimit -v $kb: reserved $bytes bytes, not between 8 MiB and half the limit"
  run_pair "ls-$kb" bash -c 'ulimit -v "$0" && exec ls -la /usr/bin /usr/lib' "$kb"
  same "ls-$kb.out" "ls-$kb.err"
done
pass
