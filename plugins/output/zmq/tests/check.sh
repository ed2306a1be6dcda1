#!/bin/sh
# output.zmq and input.zmq as a user runs them, against zmq_peer (a plain
# libzmq program) and against each other, on flows of a real capture:
#  1. PUB, batch format, tcp: a subscriber gets every record, topic frame first;
#  2. PUSH, JSON: a puller gets every record, each line equal to output.json's;
#  3. CURVE: the right server key gets every record; a wrong one gets
#     nothing, the handshake failure is counted, and flowline ends in
#     bounded time (PUB at end of input; PUSH, blocked, on SIGTERM);
#  4. output.zmq -> input.zmq over PUSH/PULL, over PUB/SUB with CURVE, and
#     with input.zmq as the CURVE server reading its keys from files: the
#     CSV written behind input.zmq equals the one written directly;
#  5. malformed messages to input.zmq are counted and dropped.
# usage: check.sh ZMQ_PEER   (FLOWLINE_BIN and the test data from ctest's environment)
set -u
peer=$1
F=$FLOWLINE_BIN
data=${FLOWLINE_TEST_DATA:-${FLOWLINE_TEST_DATA_DEFAULT:-}}
# 95 captures read as one stream: about 3800 flows in several batches
pcap="$data/pcap/ndpi_[n-s]*.pcap"
[ -r "$data/pcap/ndpi_netflix.pcap" ] || { echo "test data not found in $data/pcap"; exit 1; }
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }
port=$((20000 + $$ % 20000))

# pipeline OUTPUT_OPTS [EXTRA_STAGE_YAML]: capture -> flows -> zmq + csv (+ json)
pipeline() {
    cat >"$tmp/p.yaml" <<EOF
version: 1
stages:
  - id: capture
    use: input.pcap
    with: { path: "$pcap" }
  - id: flows
    use: aggregate.flowmeter
    from: capture
  - id: direct
    use: output.csv
    from: flows
    with: { path: $tmp/direct.csv, overwrite: true }
  - id: alerts
    use: output.zmq
    from: flows
    with: { $1 }
${2:-}
EOF
}

# wait_ready FILE: until zmq_peer has said "ready"
wait_ready() {
    i=0
    while ! grep -q ready "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

summary() { tail -n 1 "$1"; }
field() { summary "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
rows() { echo $(($(wc -l <"$1") - 1)); }

# ---- 1. PUB, batch, tcp ----------------------------------------------------
"$peer" sub tcp://127.0.0.1:$port --expect-topic flows/v1 --idle 4 >"$tmp/sub.out" 2>&1 &
pids="$pids $!"; sp=$!
pipeline "endpoint: \"tcp://127.0.0.1:$port\", topic: flows/v1, wait_subscribers: 1"
wait_ready "$tmp/sub.out"
$F run -v --no-progress "$tmp/p.yaml" >"$tmp/run.out" 2>&1 || bad "1: flowline failed: $(cat "$tmp/run.out")"
wait $sp
n=$(rows "$tmp/direct.csv")
[ "$n" -gt 3000 ] || bad "1: only $n flows in the captures"
if [ "$(field "$tmp/sub.out" records)" = "$n" ] && [ "$(field "$tmp/sub.out" wrong_topic)" = 0 ] &&
   [ "$(field "$tmp/sub.out" bad)" = 0 ]; then
    ok "1: PUB batch: the subscriber got all $n records, topic frame first ($(summary "$tmp/sub.out"))"
else
    bad "1: PUB batch: $n flows, subscriber: $(summary "$tmp/sub.out")"
fi
grep -q "records_sent=$n " "$tmp/run.out" || bad "1: records_sent is not $n: $(grep alerts "$tmp/run.out")"

# ---- 2. PUSH, JSON --------------------------------------------------------
"$peer" pull "ipc://$tmp/push.sock" --json "$tmp/got.jsonl" --idle 3 >"$tmp/pull.out" 2>&1 &
pids="$pids $!"; sp=$!
pipeline "endpoint: \"ipc://$tmp/push.sock\", socket: push, format: json, time_format: epoch_ns" "
  - id: file
    use: output.json
    from: flows
    with: { path: $tmp/direct.jsonl, overwrite: true, time_format: epoch_ns }"
wait_ready "$tmp/pull.out"
$F run -v --no-progress "$tmp/p.yaml" >"$tmp/run.out" 2>&1 || bad "2: flowline failed: $(cat "$tmp/run.out")"
wait $sp
if [ "$(field "$tmp/pull.out" messages)" = "$n" ] && cmp -s "$tmp/got.jsonl" "$tmp/direct.jsonl"; then
    ok "2: PUSH json: $n messages, each equal to output.json's line"
else
    bad "2: PUSH json: $(summary "$tmp/pull.out"); $(cmp "$tmp/got.jsonl" "$tmp/direct.jsonl" 2>&1)"
fi

# ---- 3. CURVE -------------------------------------------------------------
# Two subscribers, one with the wrong server key: it never subscribes, so
# flowline waits wait_timeout for it (handshake failures counted meanwhile).
set -- $("$peer" keygen); spub=$1; ssec=$2
set -- $("$peer" keygen); wrong=$1
port=$((port + 1))
"$peer" sub tcp://127.0.0.1:$port --server-key "$spub" --idle 4 >"$tmp/right.out" 2>&1 &
pids="$pids $!"; rp=$!
"$peer" sub tcp://127.0.0.1:$port --server-key "$wrong" --idle 4 >"$tmp/wrong.out" 2>&1 &
pids="$pids $!"; wp=$!
pipeline "endpoint: \"tcp://127.0.0.1:$port\", curve_secret_key: \"$ssec\", wait_subscribers: 2, wait_timeout: 2s"
wait_ready "$tmp/right.out"; wait_ready "$tmp/wrong.out"
t0=$(date +%s)
$F run -v --no-progress "$tmp/p.yaml" >"$tmp/run.out" 2>&1 || bad "3: flowline failed: $(cat "$tmp/run.out")"
t1=$(date +%s)
wait $rp $wp
[ $((t1 - t0)) -le 10 ] || bad "3: PUB with CURVE took $((t1 - t0)) s"
[ "$(field "$tmp/right.out" records)" = "$n" ] || bad "3: right key: $(summary "$tmp/right.out")"
[ "$(field "$tmp/wrong.out" messages)" = 0 ] || bad "3: wrong key got something: $(summary "$tmp/wrong.out")"
grep -q "handshake_failures=[1-9]" "$tmp/run.out" || bad "3: no handshake failure counted: $(grep alerts "$tmp/run.out")"
[ $fail = 0 ] && ok "3: CURVE PUB: right key $n records, wrong key 0 and counted, $((t1 - t0)) s"

# PUSH to a puller with the wrong key: blocked (no peer), SIGTERM ends it within linger
"$peer" pull "tcp://127.0.0.1:$port" --server-key "$wrong" --idle 6 >"$tmp/wrong.out" 2>&1 &
pids="$pids $!"; wp=$!
pipeline "endpoint: \"tcp://127.0.0.1:$port\", socket: push, curve_secret_key: \"$ssec\", linger: 1s"
$F run -v --no-progress "$tmp/p.yaml" >"$tmp/run.out" 2>&1 &
fp=$!
sleep 2
kill -TERM $fp
t0=$(date +%s)
wait $fp; rc=$?
t1=$(date +%s)
wait $wp
[ $((t1 - t0)) -le 3 ] || bad "3: PUSH blocked on a wrong-key peer took $((t1 - t0)) s to stop"
[ "$(field "$tmp/wrong.out" messages)" = 0 ] || bad "3: PUSH wrong key got: $(summary "$tmp/wrong.out")"
grep -q "records_dropped=[1-9]" "$tmp/run.out" || bad "3: PUSH drop not counted: $(grep alerts "$tmp/run.out")"
[ $fail = 0 ] && ok "3: CURVE PUSH: wrong key gets nothing; SIGTERM stops flowline in $((t1 - t0)) s (exit $rc), drops counted"

# ---- 4. output.zmq -> input.zmq -------------------------------------------
roundtrip() {   # name, output opts, input opts
    cat >"$tmp/in.yaml" <<EOF
version: 1
stages:
  - id: link
    use: input.zmq
    with: { $3, idle_timeout: 3s }
  - id: out
    use: output.csv
    from: link
    with: { path: $tmp/via.csv, overwrite: true }
EOF
    rm -f "$tmp/via.csv"
    $F run -v --no-progress "$tmp/in.yaml" >"$tmp/in.out" 2>&1 &
    ip=$!
    sleep 0.3
    pipeline "$2"
    $F run -v --no-progress "$tmp/p.yaml" >"$tmp/run.out" 2>&1 || bad "4 $1: sender failed: $(cat "$tmp/run.out")"
    wait $ip || bad "4 $1: receiver failed: $(cat "$tmp/in.out")"
    if cmp -s "$tmp/via.csv" "$tmp/direct.csv"; then
        ok "4 $1: flowline -> zmq -> flowline: $(rows "$tmp/via.csv") rows equal to the direct CSV"
    else
        bad "4 $1: CSVs differ: $(cmp "$tmp/via.csv" "$tmp/direct.csv" 2>&1); $(grep link "$tmp/in.out")"
    fi
}
roundtrip push "endpoint: \"ipc://$tmp/rt.sock\", socket: push" \
    "endpoint: \"ipc://$tmp/rt.sock\", socket: pull"
port=$((port + 1))
roundtrip "pub+curve" "endpoint: \"tcp://127.0.0.1:$port\", curve_secret_key: \"$ssec\", wait_subscribers: 1, topic: fl" \
    "endpoint: \"tcp://127.0.0.1:$port\", socket: sub, topic: fl, curve_server_key: \"$spub\""
# input.zmq as the CURVE server (binding), keys from files: its secret in
# ZeroMQ's certificate format, the sender's copy of its public key bare
printf '#   ZeroMQ CURVE Secret Certificate\nmetadata\ncurve\n    public-key = "%s"\n    secret-key = "%s"\n' \
    "$spub" "$ssec" >"$tmp/server.key_secret"
printf '%s\n' "$spub" >"$tmp/server.key"
port=$((port + 1))
roundtrip "pull server, key files" \
    "endpoint: \"tcp://127.0.0.1:$port\", socket: push, mode: connect, curve_server_key: $tmp/server.key" \
    "endpoint: \"tcp://127.0.0.1:$port\", socket: pull, mode: bind, curve_secret_key: $tmp/server.key_secret"

# ---- 5. malformed messages ------------------------------------------------
cat >"$tmp/in.yaml" <<EOF
version: 1
stages:
  - id: link
    use: input.zmq
    with: { endpoint: "ipc://$tmp/bad.sock", socket: pull, mode: bind, idle_timeout: 2s }
  - id: out
    use: output.csv
    from: link
    with: { path: $tmp/bad.csv, overwrite: true }
EOF
$F run -v --no-progress "$tmp/in.yaml" >"$tmp/in.out" 2>&1 &
ip=$!
sleep 0.3
"$peer" send-bad "ipc://$tmp/bad.sock" >/dev/null || bad "5: zmq_peer send-bad failed"
wait $ip || bad "5: input.zmq failed: $(cat "$tmp/in.out")"
if grep -q "messages_received=6 " "$tmp/in.out" && grep -q "messages_bad=5" "$tmp/in.out" &&
   grep -q "records_received=3 " "$tmp/in.out" && [ "$(rows "$tmp/bad.csv")" = 3 ]; then
    ok "5: 5 malformed messages counted and dropped, the good batch's 3 rows written"
else
    bad "5: $(grep -i "link\|bad\|warn" "$tmp/in.out")"
fi
grep -q "version 2; this flowline reads version 1" "$tmp/in.out" || bad "5: version not named: $(cat "$tmp/in.out")"

# ---- 6. the examples: conf/examples/flows-over-zmq.yaml -> flows-from-zmq.yaml
src=${FLOWLINE_SRC:-$(dirname "$0")/../../../..}
ZMQ_LINK="ipc://$tmp/ex.sock" OUT="$tmp/ex.csv" IDLE=3s \
    $F run -v --no-progress "$src/conf/examples/flows-from-zmq.yaml" >"$tmp/in.out" 2>&1 &
ip=$!
sleep 0.3
PCAP="$pcap" ZMQ_LINK="ipc://$tmp/ex.sock" \
    $F run -v --no-progress "$src/conf/examples/flows-over-zmq.yaml" >"$tmp/run.out" 2>&1 ||
    bad "6: flows-over-zmq.yaml failed: $(cat "$tmp/run.out")"
wait $ip || bad "6: flows-from-zmq.yaml failed: $(cat "$tmp/in.out")"
sent=$(sed -n 's/.*link (output.zmq):.* records_sent=\([0-9]*\).*/\1/p' "$tmp/run.out")
if [ -n "$sent" ] && [ "$sent" -gt 3000 ] && [ "$(rows "$tmp/ex.csv")" = "$sent" ]; then
    ok "6: the examples: $sent flows sent, $sent rows written by the receiver"
else
    bad "6: the examples: sent '$sent', received $(rows "$tmp/ex.csv" 2>/dev/null)"
fi

exit $fail
