#!/bin/sh
# install_examples.sh BUILD_DIR SOURCE_DIR -- `cmake --install` into a
# DESTDIR (what make install DESTDIR=... runs), then every examples/*.c
# built against the installed library through pkg-config
# (PKG_CONFIG_SYSROOT_DIR), shared and with libherald.a, and run against the
# installed heraldd; the installed herald CLI runs too. EXAMPLE_CFLAGS: what
# the examples need beside (the sanitizers of a sanitized build).
set -eu
build=$1 src=$2
stage=$(mktemp -d /tmp/herald-install-XXXXXX)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid"; wait "$pid" || true; fi; rm -rf "$stage"' EXIT
DESTDIR=$stage cmake --install "$build" --prefix /usr/local >/dev/null
root=$stage/usr/local
libdir=$(dirname "$(find "$root" -name herald.pc)")/..
for f in bin/heraldd bin/herald include/herald/herald.h; do
  test -e "$root/$f" || { echo "not installed: $f"; exit 1; }
done
readelf -d "$libdir/libherald.so" | grep -q 'SONAME.*libherald.so.1'
test -f "$libdir/libherald.a"
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$libdir/pkgconfig
# libherald.a, and what it needs (Requires.private) as shared libraries
static_libs="$(pkg-config --libs $(pkg-config --print-requires-private herald)) -lpthread"
for ex in "$src"/examples/*.c; do
  name=$(basename "$ex" .c)
  cc ${EXAMPLE_CFLAGS:-} -Wall -Wextra -Werror "$ex" \
    $(pkg-config --cflags --libs herald) -o "$stage/$name"
  cc ${EXAMPLE_CFLAGS:-} -Wall -Werror "$ex" $(pkg-config --cflags herald) "$libdir/libherald.a" \
    $static_libs -o "$stage/$name-static"
done
mkdir "$stage/data"
HERALD_KEY=testapp.root:secretroot "$root/bin/heraldd" --port 0 --bind 127.0.0.1 \
  --storage memory --data-dir "$stage/data" >"$stage/heraldd.log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 1500); do
  port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$stage/heraldd.log")
  [ -n "$port" ] && break
  sleep 0.01
done
[ -n "$port" ] || { cat "$stage/heraldd.log"; exit 1; }
export HERALD_KEY=testapp.root:secretroot HERALD_PORT=$port
for ex in "$src"/examples/*.c; do
  name=$(basename "$ex" .c)
  LD_LIBRARY_PATH=$libdir "$stage/$name"
  "$stage/$name-static"
done
"$root/bin/herald" --port "$port" time >/dev/null
echo "installed and ran: $(ls "$src"/examples/*.c | wc -l) examples, shared and static"
