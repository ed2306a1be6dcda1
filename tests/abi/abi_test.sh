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
expect major "built for plugin ABI 3.0, this flowline has ABI 2.2"
expect minor "built for plugin ABI 2.3, this flowline has ABI 2.2"
expect nosym "no fl_plugin_entry symbol (not a flowline plugin)"
expect badopts "option \"limit\" is declared twice"

doc=$(FLOWLINE_PLUGIN_PATH=$dir/ok "$FLOWLINE_BIN" plugins --doc transform.abi) || { echo "FAIL ok: not loaded"; fail=1; }
echo "$doc" | grep -q "limit" || { echo "FAIL ok: option table not in the reference"; fail=1; }
list=$(FLOWLINE_PLUGIN_PATH=$dir/ok "$FLOWLINE_BIN" plugins 2>&1)
echo "$list" | grep -q "^transform.abi " || { echo "FAIL ok: not listed: $list"; fail=1; }
exit $fail
