#!/bin/sh
# Plugins built against smaller public structs run in a core whose structs
# have grown: flowline-abi-grown is the core built with FL_ABI_GROWTH_TEST
# (every growable struct ends in 40 more bytes). Each plugin's reference
# (its option table, read at the plugin's row size) and a whole pipeline's
# output (schemas, describe() outputs, decoder options, batches) must be the
# same as in the ordinary core.
set -u
build=$1
grown=$build/flowline-abi-grown
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0

for use in $("$FLOWLINE_BIN" plugins | awk '{print $1}'); do
    "$FLOWLINE_BIN" plugins --doc "$use" --json >"$tmp/want.json" 2>&1
    "$grown" plugins --doc "$use" --json >"$tmp/got.json" 2>&1
    if cmp -s "$tmp/want.json" "$tmp/got.json"; then
        echo "ok   $use: same reference"
    else
        echo "FAIL $use: reference differs in the grown core"; diff "$tmp/want.json" "$tmp/got.json" | head; fail=1
    fi
done

"$FLOWLINE_BIN" gen --packets 20000 --concurrency 300 --seed 7 --path "$tmp/t.pcap" >/dev/null || exit 1
for core in "$FLOWLINE_BIN" "$grown"; do
    name=$(basename "$core")
    PCAP=$tmp/t.pcap OUT=$tmp/$name.csv "$core" run --no-progress "$FLOWLINE_SRC/conf/examples/pcap-to-csv.yaml" \
        2>"$tmp/$name.err" || { echo "FAIL $name: run failed"; cat "$tmp/$name.err"; fail=1; }
    sort "$tmp/$name.csv" >"$tmp/$name.sorted"
done
rows=$(wc -l <"$tmp/flowline.sorted")
if [ "$rows" -gt 100 ] && cmp -s "$tmp/flowline.sorted" "$tmp/flowline-abi-grown.sorted"; then
    echo "ok   pipeline: $rows identical rows from both cores"
else
    echo "FAIL pipeline: $rows rows; outputs differ"; diff "$tmp/flowline.sorted" "$tmp/flowline-abi-grown.sorted" | head; fail=1
fi
exit $fail
