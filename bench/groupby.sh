#!/bin/sh
# Benchmark: aggregate.groupby records/s (docs/performance.md).
#  1. The stage alone on one core (build/groupby_bench, the plugin harness):
#     packet records in batches of 8192, 1 M records a minute of record
#     time, five typical specs (whole window; one address key; a two-field
#     key; quantiles, stddev and count_distinct; computed keys).
#  2. End to end: input.gen -> aggregate.groupby -> output.csv against
#     input.gen -> output.csv of nothing but the count, same packets, to see
#     what the stage adds to a pipeline (2 threads on this machine).
#   bench/groupby.sh [MILLION_RECORDS]      (default 20)
set -eu
cd "$(dirname "$0")/.."
m=${1:-20}
[ -x build/groupby_bench ] && [ -x build/flowline ] || {
    echo "build first: cmake --build build --target groupby_bench flowline" >&2; exit 1; }
echo "== the stage alone, one core, ${m} M records each"
./build/groupby_bench "$m"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pk=$((m * 1000000 / 4))
cat >"$tmp/with.yaml" <<YAML
version: 1
stages:
  - { id: gen, use: input.gen, with: { packets: $pk, concurrency: 20000, seed: 7 } }
  - id: g
    use: aggregate.groupby
    from: gen
    with:
      by: [src_addr, dst_port]
      aggregates: { n: count(), bytes: sum(ip_len), hi: max(ip_len), peers: count_distinct(dst_addr) }
  - { id: out, use: output.csv, from: g, with: { path: $tmp/g.csv } }
YAML
cat >"$tmp/without.yaml" <<YAML
version: 1
stages:
  - { id: gen, use: input.gen, with: { packets: $pk, concurrency: 20000, seed: 7 } }
  - id: f
    use: transform.filter
    from: gen
    with: { where: "ip_len < 0" }
  - { id: out, use: output.csv, from: f, with: { path: $tmp/f.csv } }
YAML
echo "== end to end, input.gen ($pk packets) into the stage, versus into a filter that keeps nothing"
echo "   (wall clock and CPU seconds of the whole run; the machine may be shared: CPU is steadier)"
for p in without with; do
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" ./build/flowline run --no-progress "$tmp/$p.yaml"
    read -r wall user sys <"$tmp/time"
    echo "$p groupby: wall $wall s, cpu $(echo "$user + $sys" | bc) s:" \
         "$(echo "$pk / $wall / 1000000" | bc -l | cut -c1-5) M packets/s by wall clock"
done
