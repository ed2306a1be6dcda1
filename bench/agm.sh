#!/bin/sh
# Benchmark: aggregate.agm, packet records/s and memory per tracked source.
#
#   bench/agm.sh [PACKETS] [CONCURRENCY]      (defaults: 10000000 10000)
#
# 1. The stage alone on one core (build/bench_agm, through the in-memory
#    harness: no pcap reading, no decoding; thread CPU time): 20 M TCP
#    packets from 10 k, 100 k and 1 M sources in 10 s windows, NAGM, and
#    two window lengths at once; then resident memory per source (1 M
#    sources of one window, 4 packets each).
# 2. The pipeline a user runs: a trace from `flowline gen` (in /dev/shm
#    when it fits) -> input.pcap -> aggregate.agm (10 s windows) ->
#    output.csv, wall time and CPU time of the process (2 threads: the
#    reader/decoder and the stage), fastest of REPEAT runs (default 3).
# Not part of ctest.
set -eu
cd "$(dirname "$0")/.."
packets=${1:-10000000}
conc=${2:-10000}
repeat=${REPEAT:-3}
bin=./build/flowline
[ -x "$bin" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
cmake --build build --target bench_agm >/dev/null
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== the stage alone (one core)"
./build/bench_agm rate 20000000 10000 10s
./build/bench_agm rate 20000000 100000 10s
./build/bench_agm rate 20000000 1000000 10s
./build/bench_agm rate 20000000 10000 10s nagm
./build/bench_agm rate 20000000 10000 10s,1m
./build/bench_agm mem 1000000

echo "== pipeline: pcap -> agm -> csv"
pcap=$tmp/bench.pcap
$bin gen --packets "$packets" --concurrency "$conc" --seed 1 --snaplen 128 --path "$pcap" >/dev/null
echo "trace: $(du -h "$pcap" | cut -f1), $packets packets, $conc concurrent flows"
cat > "$tmp/p.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$pcap" } }
  - { id: agm, use: aggregate.agm, from: capture, with: { windows: [10s] } }
  - { id: out, use: output.csv, from: agm, with: { path: "$tmp/agm.csv", overwrite: true } }
YAML
best=
for i in $(seq "$repeat"); do
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" $bin run -q --no-progress -v "$tmp/p.yaml" \
        2>"$tmp/err" || { tail -5 "$tmp/err"; exit 1; }
    read -r wall user sys rss < "$tmp/time"
    if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then
        best=$wall; cpu=$(echo "$user + $sys" | bc); mem=$rss
    fi
done
counted=$(grep -o 'agm (aggregate.agm):.*' "$tmp/err" | grep -o ' packets=[0-9]*' | cut -d= -f2)
rows=$(($(wc -l < "$tmp/agm.csv") - 1))
printf "pipeline: %s packets (%s TCP counted), %s rows: %.2f s wall, %.2f s CPU, %d packets/s, %d KiB max RSS\n" \
    "$packets" "$counted" "$rows" "$best" "$cpu" "$(echo "$packets / $best" | bc)" "$mem"
