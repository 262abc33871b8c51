#!/usr/bin/env bash
# cmake --install the build tree into a temporary prefix, then build a tiny C
# program against the installed package (a) with find_package(hakozuna) and
# hakozuna::hakozuna, (b) with pkg-config, and run both.
#   install_test.sh <build-dir> <work-dir> <cmake> <c-compiler>
set -euo pipefail
BUILD=${1:?usage}
WORK=${2:?usage}
CMAKE=${3:-cmake}
CC=${4:-cc}
HERE=$(cd "$(dirname "$0")" && pwd)
fail() {
  echo "FAIL [install]: $*" >&2
  exit 1
}
command -v pkg-config >/dev/null || { echo "SKIP [install]: pkg-config is not installed" >&2; exit 77; }

rm -rf "$WORK"
mkdir -p "$WORK"
PREFIX=$WORK/prefix
"$CMAKE" --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "cmake --install failed"; }
echo "installed files:"
(cd "$PREFIX" && find . -type f -o -type l | sort | sed 's/^/  /')
[[ -f $PREFIX/include/hakozuna.h ]] || fail "include/hakozuna.h not installed"
LIBDIR=$(dirname "$(find "$PREFIX" -name 'libhakozuna.so' | head -n 1)")
[[ -n $LIBDIR && -e $LIBDIR/libhakozuna.so ]] || fail "libhakozuna.so not installed"
[[ -e $LIBDIR/libhakozuna.a ]] || fail "libhakozuna.a not installed"

# (a) CMake package.
mkdir -p "$WORK/cmake-consumer"
cp "$HERE/consumer.c" "$WORK/cmake-consumer/"
cp "$HERE/consumer.cmake" "$WORK/cmake-consumer/CMakeLists.txt"
"$CMAKE" -S "$WORK/cmake-consumer" -B "$WORK/cmake-consumer/build" \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Release \
  >"$WORK/cmake-consumer.log" 2>&1 ||
  { cat "$WORK/cmake-consumer.log" >&2; fail "configuring the find_package consumer failed"; }
"$CMAKE" --build "$WORK/cmake-consumer/build" >>"$WORK/cmake-consumer.log" 2>&1 ||
  { cat "$WORK/cmake-consumer.log" >&2; fail "building the find_package consumer failed"; }
out=$(LD_LIBRARY_PATH=$LIBDIR "$WORK/cmake-consumer/build/app" cmake) ||
  fail "the find_package consumer failed: $out"
[[ $out == "OK cmake" ]] || fail "find_package consumer printed '$out'"
echo "$out"

# (b) pkg-config.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
[[ -f $PKG_CONFIG_PATH/hakozuna.pc ]] || fail "hakozuna.pc not installed in $PKG_CONFIG_PATH"
flags=$(pkg-config --cflags --libs hakozuna) || fail "pkg-config --cflags --libs hakozuna failed"
echo "pkg-config: $flags"
# shellcheck disable=SC2086
"$CC" -O2 "$HERE/consumer.c" -o "$WORK/pc-app" $flags >"$WORK/pc.log" 2>&1 || {
  cat "$WORK/pc.log" >&2
  fail "building with \$(pkg-config --cflags --libs hakozuna) failed (flags: $flags)"
}
out=$(LD_LIBRARY_PATH=$LIBDIR "$WORK/pc-app" pkg-config) || fail "the pkg-config consumer failed: $out"
[[ $out == "OK pkg-config" ]] || fail "pkg-config consumer printed '$out'"
echo "$out"
echo "PASS [install]"
