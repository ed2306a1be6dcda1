#!/bin/sh
# `cmake --install` into a prefix other than the configured one, then the
# installed binary, without FLOWLINE_PLUGIN_PATH, generates a capture and
# runs pcap -> flowmeter -> csv on it. It must load its library and plugins
# from the prefix (seen with LD_DEBUG), and nothing may be installed outside
# the prefix. DESTDIR holds the prefix, so a mistake shows up as a file
# outside it instead of landing on the machine.
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

root=$tmp/root
prefix=/opt/flowline-install-test
p=$root$prefix
DESTDIR=$root cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
outside=$(cd "$root" && find . -mindepth 1 -type f ! -path ".$prefix/*")
[ -z "$outside" ] || fail "installed outside the prefix: $outside"

unset FLOWLINE_PLUGIN_PATH
bin=$p/bin/flowline
[ -x "$bin" ] || fail "no $bin"
plugdir=$(find "$p/lib" -type d -path '*/flowline/plugins')
[ -n "$plugdir" ] && [ -f "$plugdir/flowline-input-pcap.so" ] || fail "no plugins under $p/lib"

"$bin" gen --packets 3000 --concurrency 40 --seed 3 --path "$tmp/t.pcap" >/dev/null ||
    fail "installed flowline gen"
cat >"$tmp/p.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$tmp/t.pcap" } }
  - { id: flows, use: aggregate.flowmeter, from: capture }
  - id: out
    use: output.csv
    from: flows
    with: { path: "$tmp/flows.csv", fields: [src_addr, dst_addr, packets, bytes] }
YAML
LD_DEBUG=files "$bin" run --no-progress "$tmp/p.yaml" 2>"$tmp/ld.log" ||
    { grep -v "^ *[0-9]*:" "$tmp/ld.log"; fail "installed flowline run"; }
rows=$(($(wc -l <"$tmp/flows.csv") - 1))
[ "$rows" -gt 0 ] || fail "no rows in flows.csv"
for f in "$plugdir/flowline-input-pcap.so" "$plugdir/flowline-aggregate-flowmeter.so" \
         "$plugdir/flowline-output-csv.so"; do
    grep -q "file=$f " "$tmp/ld.log" || fail "$(basename "$f") not loaded from the prefix"
done
# (ld.so names it by the RUNPATH it came through: $ORIGIN/../lib/...)
grep -Eq "calling init: $p/(bin/\.\./)?lib/.*libflowline\.so\.2" "$tmp/ld.log" ||
    fail "libflowline.so.2 not loaded from the prefix"

# flowline.pc points into the prefix too (out-of-tree plugins use plugindir).
pc=$(find "$p/lib" -name flowline.pc)
pcdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=plugindir flowline)
[ "$(realpath "$pcdir")" = "$(realpath "$plugdir")" ] || fail "flowline.pc plugindir $pcdir"

# The shipped example pipeline is valid (its output goes to STATE_DIRECTORY).
STATE_DIRECTORY=$tmp "$bin" check "$p/etc/flowline/example.yaml" >/dev/null ||
    fail "example.yaml does not pass check"
grep -q "^ExecStart=$prefix/bin/flowline run --no-progress $prefix/etc/flowline/%i.yaml\$" \
    "$p/lib/systemd/system/flowline@.service" || fail "unit's ExecStart does not name the prefix"

# Bash completion: plugin names after `plugins --doc`, from the installed binary.
if [ -f /usr/share/bash-completion/bash_completion ]; then
    got=$(PATH="$p/bin:$PATH" bash -c '
        . /usr/share/bash-completion/bash_completion
        . "$1"
        COMP_WORDS=(flowline plugins --doc input.p); COMP_CWORD=3
        COMP_LINE="flowline plugins --doc input.p"; COMP_POINT=${#COMP_LINE}
        _flowline; echo "${COMPREPLY[*]}"
        COMP_WORDS=(flowline ch); COMP_CWORD=1; COMP_LINE="flowline ch"; COMP_POINT=11
        _flowline; echo "${COMPREPLY[*]}"
        COMP_WORDS=(flowline gen --se); COMP_CWORD=2; COMP_LINE="flowline gen --se"; COMP_POINT=17
        _flowline; echo "${COMPREPLY[*]}"' _ "$p/share/bash-completion/completions/flowline")
    [ "$got" = "input.pcap
check
--seed" ] || fail "completion gave: $got"
else
    echo "skip: bash-completion not installed, completion not exercised"
fi
echo "ok: installed to $prefix, ran from there: $rows rows, plugins from $plugdir"
