#!/usr/bin/env bash
# cpack -G DEB, then the package unpacked into a scratch root (dpkg -x, never
# installed on this machine): its name and contents, and programs built and
# run against it by find_package(hakozuna), by pkg-config and through
# `hakozuna run`; man hakozuna renders.
#   deb_test.sh <build-dir> <work-dir> <cmake> <c-compiler> <version> <run_probe.c>
set -euo pipefail
BUILD=${1:?usage}
WORK=${2:?usage}
CMAKE=${3:?usage}
CC=${4:?usage}
VERSION=${5:?usage}
PROBE_SRC=${6:?usage}
HERE=$(cd "$(dirname "$0")" && pwd)
fail() {
  echo "FAIL [deb]: $*" >&2
  exit 1
}
for tool in dpkg dpkg-deb pkg-config; do
  command -v $tool >/dev/null || { echo "SKIP [deb]: $tool is not installed" >&2; exit 77; }
done
CPACK=$(dirname "$CMAKE")/cpack
[[ -x $CPACK ]] || CPACK=cpack
unset LD_PRELOAD PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$CPACK" -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/out" >cpack.log 2>&1 ||
  { tail -n 30 cpack.log >&2; fail "cpack -G DEB failed"; }
ARCH=$(dpkg --print-architecture)
DEB=$WORK/out/hakozuna_${VERSION}_${ARCH}.deb
[[ -f $DEB ]] || fail "no $(basename "$DEB"); cpack made: $(ls "$WORK/out")"
echo "package: $(basename "$DEB"), $(dpkg-deb -f "$DEB" Depends)"
[[ $(dpkg-deb -f "$DEB" Package) == hakozuna && $(dpkg-deb -f "$DEB" Version) == "$VERSION" ]] ||
  fail "control fields: $(dpkg-deb -f "$DEB")"
dpkg-deb -f "$DEB" Depends | grep -q libc6 || fail "Depends does not name libc6"

ROOT=$WORK/root
dpkg -x "$DEB" "$ROOT"
for f in usr/include/hakozuna.h usr/lib/libhakozuna.so usr/lib/libhakozuna.a usr/lib/pkgconfig/hakozuna.pc \
  usr/lib/cmake/hakozuna/hakozunaConfig.cmake usr/bin/hakozuna usr/share/man/man1/hakozuna.1.gz \
  usr/share/hakozuna/profile_plot.py usr/share/hakozuna/valgrind.supp; do
  [[ -e $ROOT/$f ]] || fail "$f is not in the package"
done
ls "$ROOT"/usr/lib/libhakozuna.so.0 >/dev/null || fail "libhakozuna.so.0 (the SONAME) is not in the package"
LIBDIR=$ROOT/usr/lib

# (a) find_package(hakozuna).
mkdir -p cmake-consumer
cp "$HERE/consumer.c" cmake-consumer/
cp "$HERE/consumer.cmake" cmake-consumer/CMakeLists.txt
"$CMAKE" -S cmake-consumer -B cmake-consumer/build -DCMAKE_PREFIX_PATH="$ROOT/usr" -DCMAKE_C_COMPILER="$CC" \
  >cmake-consumer.log 2>&1 && "$CMAKE" --build cmake-consumer/build >>cmake-consumer.log 2>&1 ||
  { tail -n 30 cmake-consumer.log >&2; fail "the find_package consumer did not build"; }
out=$(LD_LIBRARY_PATH=$LIBDIR cmake-consumer/build/app cmake) || fail "the find_package consumer failed: $out"
[[ $out == "OK cmake" ]] || fail "find_package consumer printed '$out'"
echo "$out"

# (b) pkg-config.
flags=$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --cflags --libs hakozuna) || fail "pkg-config failed"
# shellcheck disable=SC2086
"$CC" -O2 "$HERE/consumer.c" -o pc-app $flags 2>pc.log || { cat pc.log >&2; fail "pkg-config build failed ($flags)"; }
out=$(LD_LIBRARY_PATH=$LIBDIR ./pc-app pkg-config) || fail "the pkg-config consumer failed: $out"
[[ $out == "OK pkg-config" ]] || fail "pkg-config consumer printed '$out'"
echo "$out"

# (c) hakozuna run, on a program that knows nothing of hakozuna.
"$CC" -O2 "$PROBE_SRC" -o plain-app -ldl
out=$("$ROOT/usr/bin/hakozuna" run -- ./plain-app) || fail "hakozuna run failed: $out"
[[ $(head -n 1 <<<"$out") == "malloc=$LIBDIR/libhakozuna.so" ]] || fail "under hakozuna run: $out"
echo "hakozuna run: $(head -n 1 <<<"$out")"
for lane in $("$ROOT/usr/bin/hakozuna" --help | sed -n 's/^lanes.*NAME: [^ ]* \(.*\) (default .*/\1/p'); do
  out=$("$ROOT/usr/bin/hakozuna" run --lane "$lane" -- ./plain-app) || fail "hakozuna run --lane $lane failed"
  [[ $(head -n 1 <<<"$out") == "malloc=$LIBDIR/hakozuna/libhakozuna-$lane.so" ]] || fail "--lane $lane: $out"
done
[[ $("$ROOT/usr/bin/hakozuna" --version) == "hakozuna $VERSION" ]] || fail "hakozuna --version"

# man hakozuna.
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$ROOT/usr/share/man/man1/hakozuna.1.gz" >man.txt 2>man.err || fail "man: $(cat man.err)"
  grep -q "hakozuna run" man.txt || fail "the man page does not render"
else
  zcat "$ROOT/usr/share/man/man1/hakozuna.1.gz" | grep -q '^\.TH HAKOZUNA 1' || fail "hakozuna.1.gz"
fi
echo "PASS [deb]"
