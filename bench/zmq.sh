#!/bin/sh
# Benchmark: the binary batch codec, output.zmq and input.zmq
# (docs/performance.md). Not part of ctest.
#
#   bench/zmq.sh [RECORDS] [PACKETS]     (defaults: 2,000,000 records; 4,000,000 packets)
#
# 1. build/zmq_bench: records/s and CPU per 1 M records of fl_wire_encode,
#    fl_wire_decode, output.zmq (PUSH over ipc and tcp, PUB, CURVE, JSON) and
#    input.zmq, each with a plain libzmq peer in another process (its CPU
#    not counted), on 30-column flow records in batches of 4096.
# 2. Whole pipelines: input.gen -> aggregate.flowmeter -> output.zmq (PUSH,
#    ipc) into a second flowline (input.zmq -> output.csv to /dev/null),
#    against the same flows written by output.csv to /dev/null directly:
#    wall and CPU of each process (/usr/bin/time), so the cost of the link is
#    the difference.
set -eu
cd "$(dirname "$0")/.."
records=${1:-2000000}
packets=${2:-4000000}
bin=./build/flowline
[ -x "$bin" ] && [ -x ./build/zmq_bench ] || { echo "build first: cmake --build build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== codec and plugins (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
./build/zmq_bench "$records"

gen() {
    cat <<EOF2
version: 1
stages:
  - id: gen
    use: input.gen
    with: { packets: $packets, seed: 7, concurrency: 20000 }
  - id: flows
    use: aggregate.flowmeter
    from: gen
EOF2
}
{ gen; cat <<EOF2
  - id: csv
    use: output.csv
    from: flows
    with: { path: /dev/null }
EOF2
} >"$tmp/direct.yaml"
{ gen; cat <<EOF2
  - id: link
    use: output.zmq
    from: flows
    with: { endpoint: "ipc://$tmp/link.sock", socket: push }
EOF2
} >"$tmp/send.yaml"
cat >"$tmp/recv.yaml" <<EOF2
version: 1
stages:
  - id: link
    use: input.zmq
    with: { endpoint: "ipc://$tmp/link.sock", socket: pull, idle_timeout: 2s }
  - id: csv
    use: output.csv
    from: link
    with: { path: /dev/null }
EOF2
echo
echo "== pipelines: input.gen ($packets packets) -> flowmeter -> ..."
/usr/bin/time -f "%e %U %S" -o "$tmp/t.direct" $bin run -v --no-progress "$tmp/direct.yaml" 2>"$tmp/direct.err"
flows=$(sed -n 's/.*csv (output.csv): records_in=\([0-9]*\).*/\1/p' "$tmp/direct.err")
/usr/bin/time -f "%e %U %S" -o "$tmp/t.recv" $bin run -v --no-progress "$tmp/recv.yaml" 2>"$tmp/recv.err" &
rp=$!
sleep 0.3
/usr/bin/time -f "%e %U %S" -o "$tmp/t.send" $bin run -v --no-progress "$tmp/send.yaml" 2>"$tmp/send.err"
wait $rp
got=$(sed -n 's/.*link (input.zmq):.*records_received=\([0-9]*\).*/\1/p' "$tmp/recv.err")
row() { read -r e u s <"$2"; printf '| %-44s | %6.2f s | %6.2f s |\n' "$1" "$e" "$(echo "$u + $s" | bc)"; }
echo "$flows flows; received over zmq: $got"
echo
echo "| process | wall | CPU (user+sys) |"
echo "|---|---|---|"
row "gen -> flowmeter -> output.csv (/dev/null)" "$tmp/t.direct"
row "gen -> flowmeter -> output.zmq PUSH ipc" "$tmp/t.send"
row "input.zmq -> output.csv (/dev/null), incl. 2 s idle" "$tmp/t.recv"
[ "$got" = "$flows" ] || { echo "lost flows: $flows made, $got received" >&2; exit 1; }
