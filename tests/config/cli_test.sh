#!/bin/sh
# The CLI around pipelines: graph as text and DOT (fan-in and workers shown), the plugin
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
g=$("$FLOWLINE_BIN" graph good/workers.yaml)
check "graph text: workers by flow_hash" "$g" "workers: 2 by flow_hash"
check "graph text: workers by partition_by" "$g" "workers: 3 by src_addr,dst_addr,proto"
d=$("$FLOWLINE_BIN" graph --dot good/workers.yaml)
check "graph dot: workers" "$d" "\"flows\" [label=\"flows\\naggregate.flowmeter\\nworkers: 2 by flow_hash\", peripheries=2];"
case "$d" in *"one\\naggregate.flowmeter\\nworkers"*) echo "FAIL graph dot: workers: 1 shown"; fail=1 ;; esac
p=$("$FLOWLINE_BIN" plugins)
for name in input.pcap input.gen aggregate.flowmeter output.csv output.json; do
    check "plugins lists $name" "$p" "$name "
done
m=$("$FLOWLINE_BIN" plugins --doc aggregate.flowmeter)
check "doc markdown" "$m" "| \`idle_timeout\` | duration | \`60s\` |"
check "doc lists the fields a port emits" "$m" "| \`conn_state\` | str |"
j=$("$FLOWLINE_BIN" plugins --doc input.pcap --json)
printf '%s\n' "$j" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert "path" in s["properties"], s' \
    && echo "ok   doc json schema parses" || { echo "FAIL doc json"; fail=1; }
if "$FLOWLINE_BIN" frobnicate 2>/dev/null; then echo "FAIL unknown command accepted"; fail=1; else echo "ok   unknown command refused"; fi
e=$("$FLOWLINE_BIN" plugins --doc input.nope 2>&1 || true)
check "unknown plugin doc" "$e" "unknown plugin \"input.nope\""

# A strict CLI: usage errors exit 2 with one line naming the problem.
usage_err() {   # description, expected stderr substring, args...
    d=$1; want=$2; shift 2
    e=$("$FLOWLINE_BIN" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 2 ]; then check "$d" "$e" "$want"; else echo "FAIL $d: exit $rc, not 2"; fail=1; fi
}
set +e
usage_err "run: extra file refused" 'unexpected argument "b.yaml"' run a.yaml b.yaml
usage_err "graph: unknown flag refused" 'unknown option "--svg"' graph --svg "$yaml"
usage_err "run: flag suggestion" 'did you mean "--no-progress"?' run --no-progres x.yaml
usage_err "command suggestion" 'unknown command "rnu"; did you mean "run"?' rnu
usage_err "plugins: stray argument" 'unexpected argument "x"' plugins x
usage_err "gen needs a path" "--path FILE is required" gen --packets 10
usage_err "help of an unknown command" 'unknown command "nope"' help nope
for form in "help check" "check --help" "check -h"; do
    # shellcheck disable=SC2086
    h=$("$FLOWLINE_BIN" $form); rc=$?
    [ $rc -eq 0 ] && check "$form on stdout, exit 0" "$h" "usage: flowline check FILE" \
        || { echo "FAIL $form: exit $rc"; fail=1; }
done
v=$("$FLOWLINE_BIN" -V)
check "-V is the version" "$v" "plugin ABI 2."
j=$("$FLOWLINE_BIN" plugins --json)
printf '%s\n' "$j" | /usr/bin/python3 -c 'import json,sys; l=json.load(sys.stdin); assert any(p["name"]=="input.pcap" for p in l), l' \
    && echo "ok   plugins --json is a JSON list" || { echo "FAIL plugins --json: $j"; fail=1; }
# A pipeline from standard input, with -vv (counters at the end).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(printf 'version: 1\nstages:\n  - {id: g, use: input.gen, with: {packets: 200, seed: 2}}\n  - {id: o, use: output.json, from: g, with: {path: %s/p.json}}\n' "$tmp" \
      | "$FLOWLINE_BIN" run --no-progress -vv - 2>&1); rc=$?
check "run - reads the pipeline from stdin (exit $rc)" "$out" "o (output.json): records_in=200"
[ "$(wc -l < "$tmp/p.json")" -eq 200 ] && echo "ok   200 records written" || { echo "FAIL rows"; fail=1; }
# path: - is standard input (plain or gzip'd, through a pipe) and standard output.
"$FLOWLINE_BIN" gen --packets 300 --seed 4 --path "$tmp/s.pcap" >/dev/null
printf 'version: 1\nstages:\n  - {id: c, use: input.pcap, with: {path: "-"}}\n  - {id: o, use: output.json, from: c, with: {path: "-"}}\n' >"$tmp/stdio.yaml"
n=$("$FLOWLINE_BIN" run "$tmp/stdio.yaml" <"$tmp/s.pcap" | wc -l)
[ "$n" -eq 300 ] && echo "ok   path: - reads stdin, writes stdout" || { echo "FAIL stdin pcap: $n lines"; fail=1; }
n=$(gzip -c "$tmp/s.pcap" | "$FLOWLINE_BIN" run "$tmp/stdio.yaml" | wc -l)
[ "$n" -eq 300 ] && echo "ok   path: - reads a gzip'd pipe" || { echo "FAIL stdin gzip: $n lines"; fail=1; }
# --set overrides an option; its paths are relative to the working directory.
(cd "$tmp" && "$FLOWLINE_BIN" run "$FLOWLINE_SRC/conf/examples/pcap-to-csv.yaml" --set capture.path=s.pcap \
    --set features.path=set.csv --set 'features.fields=[proto, packets]' --no-progress) \
    && [ "$(head -1 "$tmp/set.csv")" = "proto,packets" ] && echo "ok   --set overrides options" \
    || { echo "FAIL --set"; fail=1; }
e=$("$FLOWLINE_BIN" check "$FLOWLINE_SRC/conf/examples/pcap-to-csv.yaml" --set captur.path=x 2>&1 || true)
check "--set names an unknown stage" "$e" 'no stage "captur"; did you mean "capture"?'
# The progress bar (on a terminal) counts input.gen's packets, not bytes.
if command -v script >/dev/null; then
    bar=$(script -qc "'$FLOWLINE_BIN' gen --packets 200000 --path '$tmp/bar.pcap'" /dev/null | tr '\r' '\n')
    check "progress bar counts packets" "$bar" "200.0k / 200.0k"
else
    echo "skip progress bar: no script(1)"
fi
# flowline gen never replaces a capture unasked.
e=$("$FLOWLINE_BIN" gen --packets 10 --path "$tmp/s.pcap" 2>&1); rc=$?
check "gen refuses an existing file (exit $rc)" "$e" "exists; flowline does not replace a file unasked"
[ "$rc" -eq 1 ] && [ "$(stat -c %s "$tmp/s.pcap")" -gt 10000 ] && echo "ok   the capture is untouched" \
    || { echo "FAIL gen clobbered $tmp/s.pcap"; fail=1; }
# path: a folder, a glob or a list: the files one after the other.
mkdir -p "$tmp/caps"
"$FLOWLINE_BIN" gen --packets 700 --seed 8 --path "$tmp/a.pcap" >/dev/null
cp "$tmp/a.pcap" "$tmp/caps/a.pcap"   # not its .truth.json: a folder is read whole
cp "$tmp/s.pcap" "$tmp/caps/b.pcap"
gzip -c "$tmp/s.pcap" >"$tmp/caps/c.pcap.gz"
for spec in "$tmp/caps" "$tmp/caps/*.pcap" "[$tmp/caps/a.pcap, $tmp/caps/c.pcap.gz]"; do
    case $spec in *caps) want=1300 ;; *'*.pcap') want=1000 ;; *) want=1000 ;; esac
    rm -f "$tmp/multi.json"
    out=$("$FLOWLINE_BIN" run -v --no-progress "$tmp/stdio.yaml" --set "c.path=$spec" --set "o.path=$tmp/multi.json" 2>&1)
    check "path: $spec reads every file" "$out" "packets_read=$want records_out=$want"
done
# merge: true: two captures of the same time, their packets in time order.
mkdir -p "$tmp/links"
"$FLOWLINE_BIN" gen --packets 3000 --seed 11 --path "$tmp/l1.pcap" >/dev/null
"$FLOWLINE_BIN" gen --packets 3000 --seed 12 --path "$tmp/l2.pcap" >/dev/null
cp "$tmp/l1.pcap" "$tmp/l2.pcap" "$tmp/links/"
for merge in false true; do
    rm -f "$tmp/merged.json"
    "$FLOWLINE_BIN" run --no-progress "$tmp/stdio.yaml" --set "c.path=$tmp/links" --set c.merge=$merge \
        --set "o.path=$tmp/merged.json" --set 'o.fields=[ts]'
    sorted=$(/usr/bin/python3 -c 'import json,sys; t=[json.loads(l)["ts"] for l in open(sys.argv[1])]; print(len(t), t == sorted(t))' "$tmp/merged.json")
    case $merge in true) want="6000 True" ;; *) want="6000 False" ;; esac
    check "merge: $merge (6000 packets, in time order: $merge)" "$sorted" "$want"
done
# A pcapng file of two interfaces (mergecap keeps both): every row names
# its interface, as tshark's frame.interface_id, and the graph declares it.
if command -v mergecap >/dev/null && command -v tshark >/dev/null; then
    mergecap -I none -F pcapng -w "$tmp/two.pcapng" "$tmp/l1.pcap" "$tmp/l2.pcap"
    sed "s|\"-\"}}|$tmp/two.pcapng}}|" "$tmp/stdio.yaml" >"$tmp/two.yaml"
    g=$("$FLOWLINE_BIN" graph "$tmp/two.yaml")
    check "graph declares interface for a two-interface pcapng" "$g" "icmp_id:u16 interface:u32"
    "$FLOWLINE_BIN" run --no-progress "$tmp/stdio.yaml" --set "c.path=$tmp/two.pcapng" \
        --set "o.path=$tmp/two.json" --set 'o.fields=[ts, interface]'
    ours=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["interface"]) for l in open(sys.argv[1])))' "$tmp/two.json")
    theirs=$(tshark -r "$tmp/two.pcapng" -Y 'ip or ipv6' -T fields -e frame.interface_id 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
    [ -n "$ours" ] && [ "$ours" = "$theirs" ] && echo "ok   interface column equals tshark's ($(echo "$ours" | wc -w) rows)" \
        || { echo "FAIL interface column differs from tshark's"; fail=1; }
else
    echo "skip interface column: no mergecap/tshark"
fi
# conf/examples/ipfix-replay.yaml on the shared NetFlow v9 captures, one
# folder read in order: the 51 + 35 + 11 data records their README states
# (the fourth file has data sets only, no templates: 23 counted).
rm -f "$tmp/replay.csv"
out=$(cd "$tmp" && REPLAY="${FLOWLINE_TEST_DATA:-$FLOWLINE_TEST_DATA_DEFAULT}/netflow9" OUT="$tmp/replay.csv" \
      "$FLOWLINE_BIN" run -v --no-progress "$FLOWLINE_SRC/conf/examples/ipfix-replay.yaml" 2>&1)
check "ipfix-replay example: 97 records" "$out" "records_out=97 records=97"
check "ipfix-replay example: template-less sets counted" "$out" "drop_no_template=23"
[ "$(wc -l <"$tmp/replay.csv")" -eq 98 ] && echo "ok   ipfix-replay wrote 97 rows" \
    || { echo "FAIL ipfix-replay rows: $(wc -l <"$tmp/replay.csv")"; fail=1; }
e=$("$FLOWLINE_BIN" check "$tmp/stdio.yaml" --set "c.path=$tmp/caps/*.nothing" 2>&1 || true)
check "a glob without a match" "$e" "no file matches"
# input.metrics: the counters as records, ending with the other inputs.
printf 'version: 1\nstages:\n  - {id: g, use: input.gen, with: {packets: 2000000, seed: 5}}\n  - {id: o, use: output.csv, from: g, with: {path: %s/m.csv, fields: [ts]}}\n  - {id: self, use: input.metrics, with: {interval: 100ms}}\n  - {id: s, use: output.json, from: self, with: {path: %s/m.json}}\n' "$tmp" "$tmp" >"$tmp/m.yaml"
timeout 120 "$FLOWLINE_BIN" run --no-progress "$tmp/m.yaml"; rc=$?
/usr/bin/python3 - "$tmp/m.json" <<'PY' && [ $rc -eq 0 ] && echo "ok   input.metrics emits counters and ends with the inputs" || { echo "FAIL input.metrics (exit $rc)"; fail=1; }
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last = {}
for r in rows:
    last[(r["stage"], r["counter"])] = r["value"]
assert last[("g", "records_out")] == 2000000, last
assert ("o", "rows_written") in last and all(r["plugin"] for r in rows), last
PY
exit $fail
