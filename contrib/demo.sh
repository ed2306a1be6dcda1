#!/bin/sh
# The README demo: install dependencies, build, generate traffic (no data to
# download), run the pcap -> flow features -> CSV pipeline, say where it went.
set -eu
cd "$(dirname "$0")/.."
contrib/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
out=${FLOWLINE_DEMO_DIR:-/tmp/flowline-demo}
mkdir -p "$out"
./build/flowline gen --packets 500000 --concurrency 2000 --seed 1 --path "$out/demo.pcap" --overwrite true
rm -f "$out/flows.csv"   # the previous demo's result: outputs never replace files unasked
PCAP="$out/demo.pcap" OUT="$out/flows.csv" ./build/flowline run conf/examples/pcap-to-csv.yaml -v
echo
echo "flow features (seed 000, Table 2): $out/flows.csv ($(($(wc -l < "$out/flows.csv") - 1)) flows)"
head -3 "$out/flows.csv"

# flowline as an IPFIX probe writing an export file, then as the collector
# replaying it (conf/examples/ipfix-replay.yaml reads $out/exports).
mkdir -p "$out/exports"
rm -f "$out/exports/demo.ipfix" "$out/replayed.csv"
cat > "$out/probe.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$out/demo.pcap" } }
  - { id: flows, use: aggregate.flowmeter, from: capture }
  - { id: export, use: output.ipfix, from: flows, with: { path: "$out/exports/demo.ipfix" } }
YAML
./build/flowline run "$out/probe.yaml"
REPLAY="$out/exports" OUT="$out/replayed.csv" ./build/flowline run conf/examples/ipfix-replay.yaml -v
echo
echo "the same flows exported as IPFIX and collected back: $out/replayed.csv ($(($(wc -l < "$out/replayed.csv") - 1)) records)"
