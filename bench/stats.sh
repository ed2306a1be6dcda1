#!/bin/sh
# Benchmark: aggregate.stats, records/s on packet and on flow records. Not
# part of ctest.
#
#   bench/stats.sh [RECORDS] [PACKETS]     (defaults: 5000000 2000000)
#
# 1. The stage alone (build/bench_stats: the in-memory harness, thread CPU
#    time, no reading or decoding), default options (windows 1m and 1h,
#    top_n 10, top_capacity 10000), over 20 client hosts (5 k distinct
#    conversations: every top-N table holds all its keys, exact) and over
#    1000 (256 k conversations: Space-Saving replaces on nearly every
#    conversation record, its worst case), and without top-N tables.
# 2. Whole pipelines on a generated trace of PACKETS packets in /dev/shm:
#    pcap -> stats (packet records) and pcap -> flowmeter -> stats (flow
#    records), against pcap -> flowmeter alone: wall time and CPU seconds
#    (user + sys of all threads), the least of 3 runs each (the machine
#    is shared).
set -eu
cd "$(dirname "$0")/.."
records=${1:-5000000}
packets=${2:-2000000}
bin=./build/flowline
cmake --build build --target bench_stats >/dev/null
[ -x "$bin" ] && [ -x ./build/bench_stats ] || { echo "build first" >&2; exit 1; }

echo "== the stage alone ($records records per run)"
for kind in packets flows; do
    for hosts in 20 1000; do
        ./build/bench_stats "$kind" "$records" "$hosts"
    done
    ./build/bench_stats "$kind" "$records" 1000 "{top_n: 0}"
    ./build/bench_stats "$kind" "$records" 1000 "{top_capacity: 0}"
done

tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cat > "$tmp/gen.yaml" <<YAML
version: 1
stages:
  - { id: g, use: input.gen, with: { packets: $packets, concurrency: 5000, emit: false,
      path: "$tmp/t.pcap" } }
YAML
$bin run --no-progress "$tmp/gen.yaml" >/dev/null 2>&1
pipe() {   # name, stages after the capture
    { echo "version: 1"; echo "stages:"
      echo "  - { id: c, use: input.pcap, with: { path: \"$tmp/t.pcap\" } }"
      printf '%s\n' "$2"; } > "$tmp/$1.yaml"
}
pipe meter "  - { id: f, use: aggregate.flowmeter, from: c }"
pipe packets "  - { id: s, use: aggregate.stats, from: c }"
pipe flows "  - { id: f, use: aggregate.flowmeter, from: c }
  - { id: s, use: aggregate.stats, from: f }"
echo "== pipelines on $packets generated packets (least of 3 runs)"
for p in meter packets flows; do
    /usr/bin/python3 - "$bin" "$tmp/$p.yaml" "$p" "$packets" <<'PY'
import resource, subprocess, sys, time
bin, yaml, name, packets = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
best = cpu = None
for _ in range(3):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run([bin, "run", "--no-progress", yaml], check=True, capture_output=True)
    t = time.monotonic() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    best = t if best is None or t < best else best
    cpu = c if cpu is None or c < cpu else cpu
print(f"{name}: wall {best:.2f} s ({packets / best / 1e6:.2f} M packets/s), "
      f"CPU {cpu:.2f} s")
PY
done
