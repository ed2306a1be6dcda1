#!/bin/sh
# Each broken plugin is refused with exactly one line naming the file and the
# reason; the good one loads and is listed.
set -u
dir=$1
fail=0
expect() {   # variant, expected stderr line (after "flowline: "), expected exit
    out=$(FLOWLINE_PLUGIN_PATH=$dir/$1 "$FLOWLINE_BIN" plugins --doc transform.abi 2>&1 >/dev/null)
    rc=$?
    want="flowline: plugin $dir/$1/flowline-transform-abi.so refused: $2"
    if [ "$out" != "$want" ] || [ $rc -eq 0 ]; then
        echo "FAIL $1: rc=$rc"; echo "  got:  $out"; echo "  want: $want"; fail=1
    else
        echo "ok   $1: $out"
    fi
}
# The core's version, from the header the plugins were built against.
hdr=$(dirname "$0")/../../core/include/flowline/plugin.h
major=$(sed -n 's/^#define FL_ABI_MAJOR \([0-9]*\)$/\1/p' "$hdr")
minor=$(sed -n 's/^#define FL_ABI_MINOR \([0-9]*\)$/\1/p' "$hdr")
expect major "built for plugin ABI $((major + 1)).0, this flowline has ABI $major.$minor"
expect minor "built for plugin ABI $major.$((minor + 1)), this flowline has ABI $major.$minor"
expect nosym "no fl_plugin_entry symbol (not a flowline plugin)"
expect badopts "option \"limit\" is declared twice"

doc=$(FLOWLINE_PLUGIN_PATH=$dir/ok "$FLOWLINE_BIN" plugins --doc transform.abi) || { echo "FAIL ok: not loaded"; fail=1; }
echo "$doc" | grep -q "limit" || { echo "FAIL ok: option table not in the reference"; fail=1; }
list=$(FLOWLINE_PLUGIN_PATH=$dir/ok "$FLOWLINE_BIN" plugins 2>&1)
echo "$list" | grep -q "^transform.abi " || { echo "FAIL ok: not listed: $list"; fail=1; }
exit $fail
