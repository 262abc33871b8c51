#!/usr/bin/env bash
# sqlite3 builds a 300 000-row table in memory with a 64 MiB page cache,
# indexes, groups, joins, deletes and vacuums it. Output must be identical;
# peak RSS of both runs is printed (run_pair).
source "$(dirname "$0")/common.sh"
require sqlite3

cat >"$HZ_WORK/t.sql" <<'SQL'
PRAGMA cache_size=-65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB, n REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300000)
INSERT INTO t SELECT i, printf('key%08d-%s', (i*7919)%1000003, substr('abcdefghijklmnopqrstuvwxyz', 1 + i%26)), NULL, i*0.5 FROM c;
UPDATE t SET v = zeroblob(16 + id % 300);
CREATE INDEX tk ON t(k);
CREATE TABLE u AS SELECT id % 1000 AS g, count(*) AS c, sum(n) AS s, group_concat(substr(k,4,3), ',') AS ks FROM t GROUP BY id % 1000;
SELECT count(*), sum(length(v)), min(k), max(k) FROM t;
SELECT g, c, s, length(ks) FROM u ORDER BY s DESC LIMIT 5;
SELECT a.id, b.id FROM t a JOIN t b ON a.k = b.k AND a.id < b.id ORDER BY a.id LIMIT 5;
DELETE FROM t WHERE id % 3 = 0;
SELECT count(*), sum(n) FROM t WHERE k LIKE 'key00%';
SELECT hex(substr(group_concat(k), 1, 40)) FROM (SELECT k FROM t ORDER BY k DESC LIMIT 1000);
VACUUM;
SELECT count(*), total(length(v)) FROM t;
SQL

run_pair sqlite sqlite3 :memory: ".read $HZ_WORK/t.sql"
same sqlite.out
cat "$HZ_WORK/hz/sqlite.out"
pass
