#!/bin/sh
# Benchmark: flowline's pcap -> flow features against nfpcapd and softflowd on
# the same generated trace, in the same run; plus memory per active flow.
#
#   bench/run.sh [PACKETS] [CONCURRENCY]      (defaults: 10000000 10000)
#
# Prints packets/s, CPU seconds and max RSS of each tool, and flowline's
# ratios. The trace lives in /dev/shm when it fits (so disk speed is not what
# is measured) and is deleted afterwards. Not part of ctest.
set -eu
cd "$(dirname "$0")/.."
packets=${1:-10000000}
conc=${2:-10000}
bin=./build/flowline
[ -x "$bin" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
for t in nfpcapd softflowd /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "missing $t: contrib/install-deps.sh" >&2; exit 1; }
done
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pcap=$tmp/bench.pcap

echo "generating $packets packets, $conc concurrent flows ..."
$bin gen --packets "$packets" --concurrency "$conc" --seed 1 --path "$pcap" >/dev/null
echo "trace: $(du -h "$pcap" | cut -f1), $(python3 -c "import json;t=json.load(open('$pcap.truth.json'));print(t['biflows'],'biflows')")"

# measure NAME CMD...: runs once, records wall, user+sys CPU and max RSS.
measure() {
    name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || {
        echo "$name failed:"; tail -5 "$tmp/$name.err"; exit 1; }
    read -r wall user sys rss < "$tmp/time"
    cpu=$(echo "$user + $sys" | bc)
    pps=$(echo "$packets / $wall" | bc)
    printf "%-10s %10.2f s wall %8.2f s CPU %10d packets/s %8d KiB max RSS\n" "$name" "$wall" "$cpu" "$pps" "$rss"
    eval "wall_$name=$wall cpu_$name=$cpu rss_$name=$rss"
}

cat > "$tmp/p.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$pcap" } }
  - { id: flows, use: aggregate.flowmeter, from: capture, with: { idle_timeout: 60s, active_timeout: 300s } }
  - { id: out, use: output.csv, from: flows, with: { path: "$tmp/flows.csv" } }
YAML
measure flowline $bin run --no-progress "$tmp/p.yaml"
mkdir -p "$tmp/nf"
measure nfpcapd nfpcapd -r "$pcap" -w "$tmp/nf" -e 300,60
measure softflowd softflowd -r "$pcap" -n 127.0.0.1:9 -v 10 -m 2000000 -d
echo
echo "flowline flows written: $(($(wc -l < "$tmp/flows.csv") - 1))"
printf "flowline vs nfpcapd:   %.1fx faster (wall), %.1fx less CPU\n" \
    "$(echo "$wall_nfpcapd / $wall_flowline" | bc -l)" "$(echo "$cpu_nfpcapd / $cpu_flowline" | bc -l)"
printf "flowline vs softflowd: %.1fx faster (wall), %.1fx less CPU\n" \
    "$(echo "$wall_softflowd / $wall_flowline" | bc -l)" "$(echo "$cpu_softflowd / $cpu_flowline" | bc -l)"
rm -f "$pcap"

# Memory per active flow: RSS with ~1M flows open at the end of the trace
# minus RSS with a handful, divided by the flow count (DESIGN §8).
echo
echo "memory per active flow (1M concurrent flows, 2M packets) ..."
$bin gen --packets 2000000 --concurrency 1000000 --flows 1000000 --seed 2 --path "$tmp/m.pcap" >/dev/null
$bin gen --packets 2000000 --concurrency 10 --flows 1000 --seed 2 --path "$tmp/s.pcap" >/dev/null
for f in m s; do
    sed "s|$pcap|$tmp/$f.pcap|; s|$tmp/flows.csv|/dev/null|; s|idle_timeout: 60s|idle_timeout: 1d|; s|active_timeout: 300s|active_timeout: 1d|" \
        "$tmp/p.yaml" > "$tmp/$f.yaml"
    /usr/bin/time -f "%M" -o "$tmp/$f.rss" $bin run --no-progress "$tmp/$f.yaml"
done
flows=$(python3 -c "import json;print(json.load(open('$tmp/m.pcap.truth.json'))['biflows'])")
echo "max RSS: $(cat "$tmp/m.rss") KiB with $flows flows, $(cat "$tmp/s.rss") KiB with few:" \
     "$(echo "($(cat "$tmp/m.rss") - $(cat "$tmp/s.rss")) * 1024 / $flows" | bc) bytes per flow"
