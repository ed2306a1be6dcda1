#!/bin/sh
# Benchmark: flowline's pcap -> flow features against nfpcapd and softflowd on
# the same generated trace, in the same run; plus memory per active flow.
#
#   bench/run.sh [PACKETS] [CONCURRENCY]      (defaults: 10000000 10000)
#   REPEAT=N bench/run.sh ...                  (default 3)
#
# Prints packets/s, CPU seconds and max RSS of each tool, and flowline's
# ratios: against a bare libpcap pcap_next_ex loop that only counts
# (build/pcap_count, bench/pcap_count.c), nfpcapd and softflowd. flowline
# and pcap_count run REPEAT times, interleaved, and the fastest run of each
# counts (the machine is shared: the minimum is the least disturbed);
# nfpcapd and softflowd take 25 s a run and run once. The trace lives in /dev/shm when it fits (so disk speed is not what
# is measured) and is deleted afterwards. Not part of ctest.
set -eu
cd "$(dirname "$0")/.."
packets=${1:-10000000}
conc=${2:-10000}
bin=./build/flowline
[ -x "$bin" ] && [ -x ./build/pcap_count ] || {
    echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
repeat=${REPEAT:-3}
for t in nfpcapd softflowd /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "missing $t: contrib/install-deps.sh" >&2; exit 1; }
done
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pcap=$tmp/bench.pcap

echo "generating $packets packets, $conc concurrent flows ..."
# 128-byte snaplen: every header is kept, sizes come from the IP headers,
# and the trace is 1.2 GB instead of 7 GB for 10M packets.
$bin gen --packets "$packets" --concurrency "$conc" --seed 1 --snaplen 128 --path "$pcap" >/dev/null
echo "trace: $(du -h "$pcap" | cut -f1), $(python3 -c "import json;t=json.load(open('$pcap.truth.json'));print(t['biflows'],'biflows')")"

# run NAME CMD...: runs once, keeps the run with the smallest wall time
# so far as wall_NAME, cpu_NAME (user + sys) and rss_NAME.
run() {
    name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || {
        echo "$name failed:"; tail -5 "$tmp/$name.err"; exit 1; }
    read -r wall user sys rss < "$tmp/time"
    eval "best=\${wall_$name:-}"
    if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then
        eval "wall_$name=$wall cpu_$name=$(echo "$user + $sys" | bc) rss_$name=$rss"
    fi
}
report() {
    name=$1
    eval "wall=\$wall_$name cpu=\$cpu_$name rss=\$rss_$name"
    printf "%-12s %8.2f s wall %8.2f s CPU %10d packets/s %8d KiB max RSS\n" "$name" "$wall" \
        "$cpu" "$(echo "$packets / $wall" | bc)" "$rss"
}

cat > "$tmp/p.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$pcap" } }
  - { id: flows, use: aggregate.flowmeter, from: capture, with: { idle_timeout: 60s, active_timeout: 300s } }
  - { id: out, use: output.csv, from: flows, with: { path: "$tmp/flows.csv", overwrite: true } }
YAML
echo "pipeline: input.pcap -> aggregate.flowmeter -> output.csv; best of $repeat runs for" \
     "flowline and pcap_next_ex"
i=0
while [ "$i" -lt "$repeat" ]; do
    run flowline $bin run --no-progress "$tmp/p.yaml"
    run pcap_next_ex ./build/pcap_count "$pcap"
    i=$((i + 1))
done
mkdir -p "$tmp/nf"
run nfpcapd nfpcapd -r "$pcap" -w "$tmp/nf" -e 300,60
run softflowd softflowd -r "$pcap" -n 127.0.0.1:9 -v 10 -m 2000000 -d
for t in flowline pcap_next_ex nfpcapd softflowd; do report $t; done
echo
echo "flowline flows written: $(($(wc -l < "$tmp/flows.csv") - 1))"
echo "pcap_next_ex counted: $(cat "$tmp/pcap_next_ex.out")"
printf "flowline vs pcap_next_ex: %.1fx (wall; CPU %.1fx)\n" \
    "$(echo "$wall_pcap_next_ex / $wall_flowline" | bc -l)" \
    "$(echo "$cpu_pcap_next_ex / $cpu_flowline" | bc -l)"
printf "vs nfpcapd: %.1fx (wall; CPU %.1fx)\n" \
    "$(echo "$wall_nfpcapd / $wall_flowline" | bc -l)" "$(echo "$cpu_nfpcapd / $cpu_flowline" | bc -l)"
printf "vs softflowd: %.1fx (wall; CPU %.1fx)\n" \
    "$(echo "$wall_softflowd / $wall_flowline" | bc -l)" "$(echo "$cpu_softflowd / $cpu_flowline" | bc -l)"
rm -f "$pcap"

# Memory per active flow (DESIGN §8): peak anonymous RSS (the mapped trace
# file is not counted) with 1M flows all open at the end (TCP end detection
# off, timeouts of a day), minus the same with a thousand flows, divided by
# the difference in flows.
echo
echo "memory per active flow (1M flows held open) ..."
$bin gen --packets 2000000 --flows 1000000 --concurrency 100000 --seed 2 --snaplen 128 --path "$tmp/m.pcap" >/dev/null
$bin gen --packets 2000000 --flows 1000 --concurrency 100 --seed 2 --snaplen 128 --path "$tmp/s.pcap" >/dev/null
for f in m s; do
    cat > "$tmp/$f.yaml" <<YAML
version: 1
stages:
  - { id: capture, use: input.pcap, with: { path: "$tmp/$f.pcap" } }
  - { id: flows, use: aggregate.flowmeter, from: capture, with: { idle_timeout: 1d, active_timeout: 1d, tcp_end: false } }
  - { id: out, use: output.csv, from: flows, with: { path: "$tmp/$f.csv" } }
YAML
    bench/peak_rss_anon.py $bin run --no-progress "$tmp/$f.yaml" > "$tmp/$f.rss"
done
fm=$(($(wc -l < "$tmp/m.csv") - 1)); fs=$(($(wc -l < "$tmp/s.csv") - 1))
echo "peak anonymous RSS: $(cat "$tmp/m.rss") KiB with $fm flows open, $(cat "$tmp/s.rss") KiB with $fs:" \
     "$(echo "($(cat "$tmp/m.rss") - $(cat "$tmp/s.rss")) * 1024 / ($fm - $fs)" | bc) bytes per flow"
