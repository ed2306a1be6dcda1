#!/bin/sh
# The CLI around pipelines: graph as text and DOT (fan-in shown), the plugin
# list, a plugin's reference in Markdown and JSON Schema, usage errors.
set -eu
cd "$(dirname "$0")"
fail=0
check() {   # description, command output, expected substring
    case "$2" in *"$3"*) echo "ok   $1" ;; *) echo "FAIL $1: no \"$3\" in:"; echo "$2"; fail=1 ;; esac
}
yaml=good/fan-in.yaml
[ -f "$yaml" ] || yaml=../integration/050-fan-out-fan-in/pipeline.yaml
g=$(PCAP_A=a PCAP_B=b OUT=o "$FLOWLINE_BIN" graph "$yaml")
check "graph text: fan-in edge list" "$g" "aggregate.flowmeter    <- a, b"
check "graph text: declared schema" "$g" "out: flow_start:ts flow_end:ts duration:dur"
d=$(PCAP_A=a PCAP_B=b OUT=o "$FLOWLINE_BIN" graph --dot "$yaml")
check "graph dot: header" "$d" "digraph pipeline {"
check "graph dot: edge a" "$d" "\"a\" -> \"flows\";"
check "graph dot: edge b" "$d" "\"b\" -> \"flows\";"
p=$("$FLOWLINE_BIN" plugins)
for name in input.pcap input.gen aggregate.flowmeter output.csv output.json; do
    check "plugins lists $name" "$p" "$name "
done
m=$("$FLOWLINE_BIN" plugins --doc aggregate.flowmeter)
check "doc markdown" "$m" "| \`idle_timeout\` | duration | \`60s\` |"
j=$("$FLOWLINE_BIN" plugins --doc input.pcap --json)
printf '%s\n' "$j" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert "path" in s["properties"], s' \
    && echo "ok   doc json schema parses" || { echo "FAIL doc json"; fail=1; }
if "$FLOWLINE_BIN" frobnicate 2>/dev/null; then echo "FAIL unknown command accepted"; fail=1; else echo "ok   unknown command refused"; fi
e=$("$FLOWLINE_BIN" plugins --doc input.nope 2>&1 || true)
check "unknown plugin doc" "$e" "unknown plugin \"input.nope\""
exit $fail
