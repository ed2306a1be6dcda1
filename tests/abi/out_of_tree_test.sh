#!/bin/sh
# contrib/example-plugin built against the *installed* headers and library
# only (pkg-config), as a third-party author would, then loaded by flowline.
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
src="$FLOWLINE_SRC/contrib/example-plugin"
cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror -shared -fPIC -o "$tmp/flowline-transform-sample.so" \
   "$src/sample.c" $(pkg-config --cflags --libs flowline)
# Only the install tree's headers were used: the source tree is not on the include path.
out=$(FLOWLINE_PLUGIN_PATH="$tmp" LD_LIBRARY_PATH="$(pkg-config --variable=libdir flowline)" \
      "$FLOWLINE_BIN" plugins --doc transform.sample)
echo "$out" | grep -q "every" || { echo "FAIL: reference of transform.sample lacks its option: $out"; exit 1; }
echo "ok: out-of-tree plugin built against installed headers and loaded"
