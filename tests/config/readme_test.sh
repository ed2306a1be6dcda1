#!/bin/sh
# The README's command block runs as written: every line of the first ```sh
# block that uses `flowline gen`, in order, from a scratch folder that sees
# the repository's conf/ (so nothing is written into the source tree), with
# the built flowline first on PATH. Each line must exit 0, and the run must
# write flows.
set -u
: "${FLOWLINE_BIN:?}" "${FLOWLINE_SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$FLOWLINE_SRC/conf" "$tmp/conf"
awk '/^```sh/ { inblk = 1; blk = ""; next }
     /^```/ && inblk { inblk = 0; if (blk ~ /flowline gen/) { printf "%s", blk; exit } next }
     inblk { blk = blk $0 "\n" }' "$FLOWLINE_SRC/README.md" >"$tmp/lines"
[ -s "$tmp/lines" ] || { echo "FAIL: no README block with flowline gen"; exit 1; }
cd "$tmp" || exit 1
export PATH="$(dirname "$FLOWLINE_BIN"):$PATH"
fail=0
while IFS= read -r line; do
    if sh -c "$line" >"$tmp/out" 2>&1; then
        echo "ok   $line"
    else
        echo "FAIL $line"; tail -5 "$tmp/out"; fail=1
    fi
done <"$tmp/lines"
rows=$(($(wc -l <flows.csv) - 1))
[ "$rows" -gt 1000 ] && echo "ok   flows.csv has $rows flows" || { echo "FAIL flows.csv: $rows flows"; fail=1; }
exit $fail
