# Shared by the hakozuna command's tests. Sourced as
#   source common.sh <hakozuna command> <work-dir>
set -euo pipefail
HZ=${1:?usage: $0 <hakozuna command> <work-dir> ...}
WORK=${2:?usage: $0 <hakozuna command> <work-dir> ...}
TEST=$(basename "$0" .sh)
export LC_ALL=C
unset LD_PRELOAD || true
for v in $(env | grep -o '^HAKOZUNA_[A-Z_]*' || true); do unset "$v"; done

fail() {
  echo "FAIL [$TEST]: $*" >&2
  exit 1
}
skip() {
  echo "SKIP [$TEST]: $*" >&2
  exit 77
}
pass() {
  echo "PASS [$TEST]"
  exit 0
}
[[ -x $HZ ]] || fail "$HZ is not an executable"
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
