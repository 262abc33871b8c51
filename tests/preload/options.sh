#!/usr/bin/env bash
# HAKOZUNA_* variables: a bad value or an unknown name gives exactly one line
# on stderr and the default, never a broken program; good values are silent;
# HAKOZUNA_VERBOSE=1 prints the effective options.
source "$(dirname "$0")/common.sh"
require ls

ls -l /usr/bin >expected.out 2>expected.err || fail "ls failed without the library"

# check ENV... EXPECTED-STDERR-REGEX (empty: stderr must be empty)
check() {
  local want=${*: -1} rc=0
  local envs=("${@:1:$#-1}")
  env "${envs[@]}" LD_PRELOAD="$HZ_LIB" ls -l /usr/bin >got.out 2>got.err || rc=$?
  [[ $rc == 0 ]] || fail "${envs[*]}: ls exited $rc: $(head -c 300 got.err)"
  cmp -s expected.out got.out || fail "${envs[*]}: ls output differs from glibc's"
  if [[ -z $want ]]; then
    [[ ! -s got.err ]] || fail "${envs[*]}: expected no stderr, got: $(cat got.err)"
  else
    local lines
    lines=$(grep -c '' got.err || true)
    [[ $lines == 1 ]] || fail "${envs[*]}: expected exactly one stderr line, got $lines: $(cat got.err)"
    grep -qE "$want" got.err || fail "${envs[*]}: stderr '$(cat got.err)' does not match '$want'"
  fi
  echo "ok: ${envs[*]} -> $(cat got.err)"
}

for v in 1.5G 1e9 64X 1k 16E 1 99999999999999T abc -1 '' 16MB ' 1G'; do
  check "HAKOZUNA_ARENA_SIZE=$v" \
    "^hakozuna: ignoring HAKOZUNA_ARENA_SIZE=$(sed 's/[.+]/\\&/g' <<<"$v") \(.+\): using 256G$"
done
for v in abc -1 1.5 99999999999; do
  check "HAKOZUNA_PURGE_DELAY_MS=$v" "^hakozuna: ignoring HAKOZUNA_PURGE_DELAY_MS=$v \(.+\): using 500$"
done
for v in yes 2; do
  check "HAKOZUNA_BACKGROUND_PURGE=$v" "^hakozuna: ignoring HAKOZUNA_BACKGROUND_PURGE=$v \(.+\): using 1$"
  check "HAKOZUNA_STATS=$v" "^hakozuna: ignoring HAKOZUNA_STATS=$v \(.+\): using 0$"
done
# A value with a newline still gives one line (no forged "hakozuna:" line).
check "HAKOZUNA_ARENA_SIZE=$(printf '1G\nhakozuna: fake')" \
  '^hakozuna: ignoring HAKOZUNA_ARENA_SIZE=1G\?hakozuna: fake \(.+\): using 256G$'
check "HAKOZUNA_ARENA_SIZE=$(printf 'x%.0s' {1..100})" '^hakozuna: ignoring HAKOZUNA_ARENA_SIZE=x{64}\.\.\. \('
check HAKOZUNA_ARENASIZE=1G "^hakozuna: ignoring unknown variable HAKOZUNA_ARENASIZE \\(known: "
check HAKOZUNA_PURGE_DELAY=100 "^hakozuna: ignoring unknown variable HAKOZUNA_PURGE_DELAY \\(known: "
# A name is cut (with "...") only past 64 characters.
check "HAKOZUNA_$(printf 'Y%.0s' {1..70})=1" '^hakozuna: ignoring unknown variable HAKOZUNA_Y{55}\.\.\. \(known: '
for good in HAKOZUNA_ARENA_SIZE=512M HAKOZUNA_ARENA_SIZE=4g HAKOZUNA_ARENA_SIZE=16M \
  HAKOZUNA_PURGE_DELAY_MS=0 HAKOZUNA_PURGE_DELAY_MS=2000 HAKOZUNA_BACKGROUND_PURGE=0 \
  HAKOZUNA_HUGEPAGES=0 HAKOZUNA_VERBOSE=0; do
  check "$good" ""
done

# The effective options, once, at start.
env HAKOZUNA_VERBOSE=1 HAKOZUNA_ARENA_SIZE=2g HAKOZUNA_PURGE_DELAY_MS=700 LD_PRELOAD="$HZ_LIB" \
  ls -l /usr/bin >got.out 2>got.err || fail "verbose: ls failed"
cmp -s expected.out got.out || fail "verbose: ls output differs"
grep -qE '^hakozuna: options .*HAKOZUNA_ARENA_SIZE=2G .*HAKOZUNA_PURGE_DELAY_MS=700 ' got.err ||
  fail "verbose: no options line: $(cat got.err)"
[[ $(grep -c '^hakozuna: options' got.err) == 1 ]] || fail "verbose: options printed more than once"
echo "verbose: $(cat got.err)"
# The profile's path ends the line, read no further than its end (a fixed 64
# bytes once ran off the environment and crashed with a short one).
grep -qE ' HAKOZUNA_PROFILE=unset$' got.err || fail "verbose: the profile's value: $(cat got.err)"
env -i HAKOZUNA_VERBOSE=1 HAKOZUNA_PROFILE="$PWD/p" LD_PRELOAD="$HZ_LIB" /bin/true 2>got.err ||
  fail "verbose with a profile: /bin/true failed: $(cat got.err)"
grep -qE " HAKOZUNA_PROFILE=$PWD/p\$" got.err || fail "verbose with a profile: $(cat got.err)"
pass
