#!/usr/bin/env bash
# Installs (with apt, as root) everything the build, the tests and the
# benchmarks need on Debian 12; does nothing when all of it is present.
set -euo pipefail

PACKAGES=(
  cmake g++ make pkgconf dpkg-dev
  libgtest-dev googletest libbenchmark-dev
  python3 python3-matplotlib git xz-utils zstd valgrind
  libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
  rocksdb-tools stress-ng strace sqlite3 redis-server redis-tools time
  clang libclang-rt-14-dev  # the libFuzzer harness (tests/fuzz/)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "deps: all present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=()
((EUID == 0)) || SUDO=(sudo)
"${SUDO[@]}" apt-get update </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  "${PACKAGES[@]}" </dev/null
