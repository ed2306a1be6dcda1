#!/usr/bin/python3
"""Seed 003's shape end to end, as conf/examples says to run it: sFlow
datagrams -> sflow-to-kafka.yaml -> librdkafka's mock cluster ->
sflow-kafka-influx.yaml (input.kafka, transform.expr, aggregate.groupby,
output.influx) -> a real influxd 1.6. Every point read back from InfluxDB
equals the per-minute aggregate computed here from the same samples,
written to CSV by a plain input.sflow -> output.csv run.

The datagrams: bench/sflow_gen.py samples the frames of a real capture, 8
per datagram, one datagram a second, so the samples span several minutes
of one agent's time. (The shared sFlow captures hold 17 samples from
agents years apart: one stage clock over them makes most of them late,
which is right for windows but leaves nothing to compare.)"""
import csv, ipaddress, os, subprocess, sys

BIN = os.environ["FLOWLINE_BIN"]
SRC = os.environ["FLOWLINE_SRC"]
DATA, TMP = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "120-influx"))
from influxd import Influxd  # noqa: E402

MOCK = os.path.join(os.path.dirname(BIN), "kafka_mock")
REPLAY = os.path.join(TMP, "agent.pcap")
MIN = 60 * 10**9


def run(args, env, what):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, **env))
    if p.returncode != 0:
        sys.exit(f"FAIL: {what} exited {p.returncode}:\n{p.stderr}")
    return p


def expected():
    """Per (minute, agent, source): what the example computes."""
    path = os.path.join(TMP, "samples.csv")
    yaml = os.path.join(TMP, "samples.yaml")
    with open(yaml, "w") as f:
        f.write(f"""version: 1
stages:
  - {{ id: s, use: input.sflow, with: {{ path: "{REPLAY}" }} }}
  - {{ id: o, use: output.csv, from: s, with: {{ path: "{path}", time_format: epoch_ns,
       fields: [ts, agent, src_addr, dst_addr, frame_len, sampling_rate] }} }}
""")
    run(["run", "--no-progress", yaml], {}, "input.sflow -> csv")
    groups = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if not r["src_addr"]:
                continue   # counter samples and headers that are not IP: no key
            k = (int(r["ts"]) // MIN * MIN, r["agent"], r["src_addr"])
            g = groups.setdefault(k, {"samples": 0, "packets": 0, "bytes": 0, "max_frame": 0,
                                      "dst": set()})
            rate, frame = int(r["sampling_rate"]), int(r["frame_len"])
            g["samples"] += 1
            g["packets"] += rate
            g["bytes"] += rate * frame
            g["max_frame"] = max(g["max_frame"], frame)
            g["dst"].add(r["dst_addr"])
    return groups


def main():
    subprocess.run(["/usr/bin/python3", os.path.join(SRC, "bench/sflow_gen.py"),
                    os.path.join(DATA, "pcap", "ndpi_gnutella.pcap"), REPLAY, "4000"], check=True)
    want = expected()
    if len(want) < 3:
        sys.exit(f"FAIL: only {len(want)} groups in {REPLAY}: too little to compare")
    mock = subprocess.Popen([MOCK, "-b", "3", "-p", "4", "sflow"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        brokers = mock.stdout.readline().strip()
        with Influxd(TMP) as db:
            db.query("CREATE DATABASE sflow")
            env = {"REPLAY": REPLAY, "BROKERS": brokers, "TOPIC": "sflow"}
            p = run(["run", "-v", "--no-progress", os.path.join(SRC, "conf/examples/sflow-to-kafka.yaml")],
                    env, "sflow-to-kafka.yaml")
            env.update(INFLUX=db.url, DB="sflow", STOP_AT_END="true", GROUP="check")
            p = run(["run", "-v", "--no-progress",
                     os.path.join(SRC, "conf/examples/sflow-kafka-influx.yaml")],
                    env, "sflow-kafka-influx.yaml")
            series = db.query("SELECT * FROM sflow", db="sflow")
    finally:
        mock.stdin.close()
        try:
            mock.wait(timeout=30)
        except subprocess.TimeoutExpired:
            mock.kill()
            mock.wait()
    if not series:
        sys.exit(f"FAIL: no points in InfluxDB\n{p.stderr}")
    cols = series[0]["columns"]
    got = {}
    for row in series[0]["values"]:
        r = dict(zip(cols, row))
        got[(r["time"], r["agent"], str(ipaddress.ip_address(r["src_addr"])))] = r
    want = {(t, a, str(ipaddress.ip_address(s))): g for (t, a, s), g in want.items()}
    fails = 0
    if set(got) != set(want):
        print(f"FAIL: groups differ: only in InfluxDB {sorted(set(got) - set(want))[:5]}, "
              f"only expected {sorted(set(want) - set(got))[:5]}\n{p.stderr}")
        fails += 1
    for k in sorted(set(got) & set(want)):
        g, r = want[k], got[k]
        exp = {"samples": g["samples"], "packets": g["packets"], "bytes": g["bytes"],
               "max_frame": g["max_frame"], "destinations": len(g["dst"])}
        for name, v in exp.items():
            if r.get(name) != v:
                print(f"FAIL: {k} {name}: InfluxDB has {r.get(name)}, expected {v}")
                fails += 1
    if fails:
        sys.exit(1)
    print(f"ok: {len(got)} points (minute, agent, source) equal the samples' aggregates; "
          f"{sum(g['samples'] for g in want.values())} samples")


main()
