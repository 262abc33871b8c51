#!/usr/bin/env bash
# redis-server (its malloc interposed: Debian links it to libjemalloc.so.2)
# serves a deterministic script of about 60 000 commands over a unix socket:
# strings that grow by APPEND, lists, hashes, sorted sets, deletions. Every
# reply must be identical to the run as Debian ships it (on jemalloc); the
# server's peak RSS is printed for both runs.
source "$(dirname "$0")/common.sh"
require redis-server redis-cli python3

/usr/bin/python3 - >"$HZ_WORK/cmds.txt" <<'PY'
import random
random.seed(7)
out = []
for i in range(20000):
    out.append(f"SET key:{i} {'v' * (i % 700)}{i}")
for i in range(2000):
    out.append(f"RPUSH list:{i % 50} " + " ".join(str(i * j) for j in range(20)))
for i in range(15000):
    out.append(f"HSET h:{i % 300} f{i} {'x' * (i % 90)}")
for i in range(10000):
    out.append(f"ZADD z:{i % 20} {random.randrange(10**6)} m{i}")
for i in range(0, 20000, 3):
    out.append(f"DEL key:{i}")
for i in range(0, 20000, 7):
    out.append(f"APPEND key:{i} {'a' * (i % 1500)}")
out += ["DBSIZE", "GET key:7", "STRLEN key:14", "LRANGE list:3 0 5", "HLEN h:7", "ZCARD z:3",
        "ZRANGE z:5 0 4 WITHSCORES", "HGET h:9 f9", "FLUSHALL", "DBSIZE"]
print("\n".join(out))
PY

for mode in plain hz; do
  dir=$HZ_WORK/$mode
  mkdir -p "$dir"
  sock=$dir/redis.sock
  pre=()
  [[ $mode == hz ]] && pre=(env "LD_PRELOAD=$HZ_LIB")
  "${pre[@]}" redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
    --dir "$dir" >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    [[ -S $sock ]] && break
    sleep 0.1
  done
  [[ -S $sock ]] || { cat "$dir/server.log" >&2; fail "redis-server ($mode) did not start"; }
  redis-cli -s "$sock" <"$HZ_WORK/cmds.txt" >"$dir/redis.out" || fail "redis-cli ($mode) failed"
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
  rc=0
  wait "$pid" || rc=$?
  ((rc == 0)) || { tail -20 "$dir/server.log" >&2; fail "redis-server ($mode) exited with status $rc"; }
  if grep -q "hakozuna:" "$dir/server.log"; then
    cat "$dir/server.log" >&2
    fail "redis-server ($mode) logged a hakozuna error"
  fi
  echo "[$HZ_TEST] $mode: $(wc -l <"$dir/redis.out") replies, server peak RSS $peak KiB"
done
same redis.out
pass
