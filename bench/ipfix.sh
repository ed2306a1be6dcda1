#!/bin/sh
# Benchmark: IPFIX collection, flowline's input.ipfix against nfcapd, in the
# same run on the same machine: build/ipfix_load offers IPFIX over loopback
# UDP at increasing rates (30 records per datagram), each collector with
# the same 32 MiB socket buffer; a collector's figure is the highest rate
# at which it, and at every lower rate, decoded every record sent. Prints a table and the highest loss-free rate
# of each. Not part of ctest.
#
#   bench/ipfix.sh [SECONDS] [RATES...]     (defaults: 3 s; 250k .. 8M records/s)
#
# flowline runs input.ipfix alone (what is measured is collection); nfcapd
# also writes its nfcapd file, which is how it is counted (nfdump -I).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-3}
[ $# -gt 0 ] && shift
rates=${*:-250000 500000 1000000 2000000 3000000 4000000 6000000 8000000}
bin=./build/flowline
load=./build/ipfix_load
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: cmake --build build" >&2; exit 1; }
for t in nfcapd nfdump; do
    command -v "$t" >/dev/null || { echo "missing $t: contrib/install-deps.sh" >&2; exit 1; }
done
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
port=47390
buf=33554432

# stop PID: SIGTERM by pid, wait for it
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; pid=; }

flowline_at() {   # rate -> records decoded
    cat > "$tmp/c.yaml" <<YAML
version: 1
stages:
  - { id: c, use: input.ipfix, with: { listen: "udp://127.0.0.1:$port", rcvbuf: $buf } }
YAML
    $bin run -v --no-progress "$tmp/c.yaml" 2>"$tmp/fl.err" &
    pid=$!
    sleep 0.5
    $load 127.0.0.1 $port "$1" "$secs" >"$tmp/sent"
    sleep 0.5
    stop "$pid"
    grep -o ' records=[0-9]*' "$tmp/fl.err" | cut -d= -f2 | head -1
}

nfcapd_at() {
    rm -rf "$tmp/nf"; mkdir -p "$tmp/nf"
    nfcapd -w "$tmp/nf" -p $port -b 127.0.0.1 -t 3600 -B $buf >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    $load 127.0.0.1 $port "$1" "$secs" >"$tmp/sent"
    sleep 1
    stop "$pid"
    nfdump -R "$tmp/nf" -I 2>/dev/null | awk '/^Flows:/ {print $2; exit}'
}

# the highest offered rate with no loss at it and at every lower rate
best_fl=0 best_nf=0 lost_fl=0 lost_nf=0
printf "%12s %14s %14s %14s\n" "offered/s" "sent" "flowline" "nfcapd"
for r in $rates; do
    fl=$(flowline_at "$r"); sent_fl=$(cut -d' ' -f1 "$tmp/sent")
    nf=$(nfcapd_at "$r"); sent_nf=$(cut -d' ' -f1 "$tmp/sent")
    printf "%12s %14s %14s %14s\n" "$r" "$sent_fl/$sent_nf" "${fl:-0}" "${nf:-0}"
    if [ "${fl:-0}" = "$sent_fl" ]; then [ $lost_fl = 0 ] && best_fl=$r; else lost_fl=1; fi
    if [ "${nf:-0}" = "$sent_nf" ]; then [ $lost_nf = 0 ] && best_nf=$r; else lost_nf=1; fi
done
echo "highest loss-free rate: flowline $best_fl records/s, nfcapd $best_nf records/s" \
     "($secs s per rate, 30 records per datagram, ${buf} B socket buffers)"
[ "$best_nf" -gt 0 ] && printf "flowline vs nfcapd: %.1fx\n" "$(echo "$best_fl / $best_nf" | bc -l)"
