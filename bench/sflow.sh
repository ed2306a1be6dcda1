#!/bin/sh
# Benchmark: sFlow collection, flowline's input.sflow against sfcapd
# (nfdump-sflow), in the same run on the same machine: build/sflow_load
# offers sFlow v5 over loopback UDP at increasing rates (datagrams of 7 flow
# samples with 128-byte packet headers), each collector with the same
# 32 MiB socket buffer; a collector's figure is the highest rate at which
# it, and at every lower rate, decoded every sample sent. Not part of ctest.
#
#   bench/sflow.sh [SECONDS] [RATES...]     (defaults: 3 s; 100k .. 4M samples/s)
#
# flowline runs input.sflow alone (every sample decoded into the packet
# columns by the core decoder); sfcapd also writes its file, counted with
# nfdump -I.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-3}
[ $# -gt 0 ] && shift
rates=${*:-100000 250000 500000 1000000 2000000 3000000 4000000}
bin=./build/flowline
load=./build/sflow_load
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: cmake --build build" >&2; exit 1; }
for t in sfcapd nfdump; do
    command -v "$t" >/dev/null || { echo "missing $t: contrib/install-deps.sh" >&2; exit 1; }
done
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
port=63430
buf=33554432

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; pid=; }

flowline_at() {   # rate -> samples decoded
    cat > "$tmp/c.yaml" <<YAML
version: 1
stages:
  - { id: s, use: input.sflow, with: { listen: "udp://127.0.0.1:$port", rcvbuf: $buf } }
YAML
    $bin run -v --no-progress "$tmp/c.yaml" 2>"$tmp/fl.err" &
    pid=$!
    sleep 0.5
    $load 127.0.0.1 $port "$1" "$secs" >"$tmp/sent"
    sleep 0.5
    stop "$pid"
    grep -o ' flow_samples=[0-9]*' "$tmp/fl.err" | cut -d= -f2 | head -1
}

sfcapd_at() {
    rm -rf "$tmp/sf"; mkdir -p "$tmp/sf"
    sfcapd -w "$tmp/sf" -p $port -b 127.0.0.1 -t 3600 -B $buf >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    $load 127.0.0.1 $port "$1" "$secs" >"$tmp/sent"
    sleep 1
    stop "$pid"
    nfdump -R "$tmp/sf" -I 2>/dev/null | awk '/^Flows:/ {print $2; exit}'
}

best_fl=0 best_sf=0 lost_fl=0 lost_sf=0
printf "%12s %18s %14s %14s\n" "offered/s" "sent" "flowline" "sfcapd"
for r in $rates; do
    fl=$(flowline_at "$r"); sent_fl=$(cut -d' ' -f1 "$tmp/sent")
    sf=$(sfcapd_at "$r"); sent_sf=$(cut -d' ' -f1 "$tmp/sent")
    printf "%12s %18s %14s %14s\n" "$r" "$sent_fl/$sent_sf" "${fl:-0}" "${sf:-0}"
    if [ "${fl:-0}" = "$sent_fl" ]; then [ $lost_fl = 0 ] && best_fl=$r; else lost_fl=1; fi
    if [ "${sf:-0}" = "$sent_sf" ]; then [ $lost_sf = 0 ] && best_sf=$r; else lost_sf=1; fi
done
echo "highest loss-free rate: flowline $best_fl samples/s, sfcapd $best_sf samples/s" \
     "($secs s per rate, 7 samples per datagram, ${buf} B socket buffers)"
[ "$best_sf" -gt 0 ] && printf "flowline vs sfcapd: %.1fx\n" "$(echo "$best_fl / $best_sf" | bc -l)"
