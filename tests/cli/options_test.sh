#!/usr/bin/env bash
# hakozuna options lists exactly the variables the library itself knows (the
# library's warning about an unknown name lists them, from the same table),
# with defaults, the value from the environment and why a bad one is ignored.
#   options_test.sh <hakozuna> <work-dir> <libhakozuna.so>
source "$(dirname "$0")/common.sh"
LIB=${3:?}

"$HZ" options >plain.out || fail "options exited $?"
listed=$(grep -oE '^HAKOZUNA_[A-Z_]+' plain.out | sort)
# "hakozuna: ignoring unknown variable HAKOZUNA_X (known: HAKOZUNA_STATS, _ARENA_SIZE, ...)"
HAKOZUNA_NO_SUCH_OPTION=1 LD_PRELOAD=$LIB /bin/true 2>lib.err
known=$(sed -n 's/.*(known: \(.*\))$/\1/p' lib.err | tr ',' '\n' | sed 's/^ *//; s/^_/HAKOZUNA_/' | sort)
[[ -n $known ]] || fail "the library did not list its variables: $(cat lib.err)"
[[ $listed == "$known" ]] || fail "hakozuna options lists '$listed', the library knows '$known'"
echo "variables: $(tr '\n' ' ' <<<"$listed")"
grep -qE '^HAKOZUNA_ARENA_SIZE +default 256G +now \(unset\)$' plain.out || fail "arena size line: $(cat plain.out)"

HAKOZUNA_PURGE_DELAY_MS=700 HAKOZUNA_ARENA_SIZE=1.5G HAKOZUNA_ARENASIZE=1G "$HZ" options >env.out ||
  fail "options exited $? with variables set"
grep -qE '^HAKOZUNA_PURGE_DELAY_MS +default 500 +now 700$' env.out || fail "delay line: $(grep DELAY env.out)"
grep -qE "^HAKOZUNA_ARENA_SIZE +default 256G +now '1.5G' ignored \(not an integer" env.out ||
  fail "bad arena size not explained: $(grep ARENA_SIZE env.out)"
grep -q '^HAKOZUNA_ARENASIZE: unknown' env.out || fail "the typo HAKOZUNA_ARENASIZE is not flagged"
set +e
"$HZ" options extra 2>/dev/null
rc=$?
set -e
[[ $rc == 2 ]] || fail "options with an argument exited $rc, not 2"
pass
