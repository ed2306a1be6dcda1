#!/bin/sh
# Benchmark: aggregate.hoststats (docs/performance.md, "hoststats").
#  1. records/s of the stage alone on one core (CPU time of its thread),
#     packet and flow records, default windows [10s, 30s, 1m, 5m]
#     (build/hoststats_bench; 10000 and 100 hosts);
#  2. a whole pipeline on a generated capture in /dev/shm: pcap -> hoststats
#     (packets) and pcap -> flowmeter -> hoststats, records/s of wall time;
#  3. memory per tracked host: peak anonymous RSS of input.gen with 1 M
#     client hosts -> hoststats, unbounded (max_hosts 4 M) against bounded
#     (max_hosts 20000), divided by the host rows held.
# Not part of ctest.   bench/hoststats.sh [million records, default 20]
set -eu
cd "$(dirname "$0")/.."
m=${1:-20}
bin=./build/flowline
[ -x "$bin" ] && [ -x ./build/hoststats_bench ] || { echo "build first: cmake --build build" >&2; exit 1; }
export FLOWLINE_PLUGIN_PATH=${FLOWLINE_PLUGIN_PATH:-$PWD/build/plugins}
tmp=$(mktemp -d /dev/shm/hsbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== 1. the stage alone, one core"
./build/hoststats_bench "$m" 10000
./build/hoststats_bench "$m" 100

echo "== 2. pipelines on a generated capture (wall time)"
$bin gen --packets $((m * 1000000 / 2)) --concurrency 20000 --seed 5 --path "$tmp/t.pcap" \
    --snaplen 128 >/dev/null 2>&1
for mode in packets flows; do
    if [ $mode = packets ]; then from=capture; fm=""; else from=flows; fm="
  - { id: flows, use: aggregate.flowmeter, from: capture }"; fi
    cat > "$tmp/p.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$tmp/t.pcap" } }$fm
  - { id: hosts, use: aggregate.hoststats, from: $from }
YAML
    s=$(date +%s.%N)
    $bin run --no-progress -v "$tmp/p.yaml" 2>"$tmp/err"
    e=$(date +%s.%N)
    recs=$(grep -o 'hosts (aggregate.hoststats): records_in=[0-9]*' "$tmp/err" | grep -o '[0-9]*$')
    rows=$(grep -o 'hosts (aggregate.hoststats):.* records_out=[0-9]*' "$tmp/err" | grep -o 'records_out=[0-9]*')
    echo "$mode: $recs records in $(echo "$e - $s" | bc) s: $(echo "$recs / ($e - $s) / 1000000" | bc -l | cut -c1-5) M records/s ($rows)"
done

echo "== 3. memory per tracked host (1 M client hosts, one conversation each)"
# The trace is 30 s from a whole minute: at the end every window of each
# length holds all of its ~1.07 M distinct hosts (clients and servers).
for wins in "[1m]" "[10s, 30s, 1m, 5m]"; do
    out=""
    for mh in 20000 4000000; do
        cat > "$tmp/m.yaml" <<YAML
version: 1
stages:
  - { id: traffic, use: input.gen, with: { packets: ${MEM_PACKETS:-3000000}, flows: ${MEM_HOSTS:-1000000}, hosts: ${MEM_HOSTS:-1000000}, concurrency: 20000, seed: 3 } }
  - { id: hosts, use: aggregate.hoststats, from: traffic, with: { windows: $wins, max_hosts: $mh } }
YAML
        out="$out $(python3 bench/peak_rss_anon.py $bin run --no-progress "$tmp/m.yaml")"
    done
    echo "windows $wins: peak RssAnon KiB with max_hosts 20000 and 4000000:$out"
done
