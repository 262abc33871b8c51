#!/usr/bin/env bash
# /usr/bin/python3 builds, sorts and digests a few hundred thousand dict entries.
source "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
[[ -x $PY ]] || skip "$PY is not installed"

cat >"$HZ_WORK/dicts.py" <<'PYEOF'
import hashlib, random, sys

random.seed(20240601)
d = {}
for i in range(300000):
    k = "k%09d/%s" % (random.randrange(10**9), "x" * (i % 41))
    d[k] = [i, str(i * 7919), (i % 13, k[:6]), {"n": i} if i % 5 == 0 else None]
items = sorted(d.items())
h = hashlib.sha256()
for k, v in items:
    h.update(k.encode())
    h.update(repr(v).encode())
print(len(items), h.hexdigest())

# churn: delete half, grow strings and lists, rebuild
for k in list(d)[::2]:
    del d[k]
big = [("%d" % i) * (i % 300) for i in range(20000)]
joined = "|".join(big)
words = sorted(set(joined.split("0")), key=lambda s: (len(s), s))
print(len(d), sum(len(k) for k in d), len(joined), len(words), words[-1][:20])
by_len = {}
for k in d:
    by_len.setdefault(len(k), []).append(k)
print(sorted((n, len(v)) for n, v in by_len.items())[:5])
print(hashlib.sha256("".join(sorted(d)).encode()).hexdigest())
PYEOF

# The interpreter itself must run on hakozuna.
rc=0
HZ_NAME=$(basename "$HZ_LIB") LD_PRELOAD=$HZ_LIB "$PY" -c \
  "import os, sys; sys.exit(0 if os.environ['HZ_NAME'] in open('/proc/self/maps').read() else 3)" || rc=$?
((rc != 3)) || fail "python3 does not map $HZ_LIB under LD_PRELOAD"
((rc == 0)) || fail "python3 -c '...' exited with status $rc under LD_PRELOAD"

run_pair dicts "$PY" "$HZ_WORK/dicts.py"
same dicts.out dicts.err
cat "$HZ_WORK/hz/dicts.out"
pass
