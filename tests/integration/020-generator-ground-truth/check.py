#!/usr/bin/python3
"""Generator ground truth vs flowline's flow meter. usage: check.py DATA TMP"""
import csv, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["FLOWLINE_BIN"]
PROTO = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}


def run(yaml, env):
    subprocess.run([BIN, "run", "-q", os.path.join(HERE, yaml)], check=True, env=dict(os.environ, **env))


def totals(path):
    flows, by_proto, by_ver, keys, states = 0, {}, {}, [], {}
    with open(path) as f:
        for r in csv.DictReader(f):
            flows += 1
            states[r["conn_state"]] = states.get(r["conn_state"], 0) + 1
            for table, k in ((by_proto, PROTO.get(int(r["proto"]), r["proto"])), (by_ver, r["ip_version"])):
                t = table.setdefault(k, {"packets": 0, "bytes": 0, "flows": 0})
                t["packets"] += int(r["packets"])
                t["bytes"] += int(r["bytes"])
                t["flows"] += 1
            keys.append((r["proto"], r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], r["packets"], r["bytes"],
                         r["conn_state"]))
    return flows, by_proto, by_ver, sorted(keys), states


def main():
    tmp = sys.argv[2]
    pcap = os.path.join(tmp, "gen.pcap")
    subprocess.run([BIN, "gen", "--packets", "1000000", "--concurrency", "5000", "--seed", "11",
                    "--ipv6", "0.3", "--vlan", "0.1", "--path", pcap], check=True, stdout=subprocess.DEVNULL)
    truth = json.load(open(pcap + ".truth.json"))
    idle = "%ds" % (truth["max_gap_ns"] // 10**9 + 60)   # longer than any generated gap
    run("pcap.yaml", {"PCAP": pcap, "OUT": os.path.join(tmp, "pcap.csv"), "IDLE": idle})
    run("gen.yaml", {"OUT": os.path.join(tmp, "gen.csv"), "IDLE": idle})
    flows, by_proto, by_ver, keys, states = totals(os.path.join(tmp, "pcap.csv"))
    bad = []
    if truth["packets"] != 1000000:
        bad.append(f"generator wrote {truth['packets']} packets, asked for 1000000")
    if flows != truth["biflows"]:
        bad.append(f"biflows: flowline {flows}, truth {truth['biflows']}")
    for name, got, want in (("by_proto", by_proto, truth["by_proto"]), ("by_ip_version", by_ver, truth["by_ip_version"])):
        for k, w in want.items():
            g = got.get(k, {})
            for m in ("packets", "bytes", "flows"):
                if m in w and g.get(m) != w[m]:
                    bad.append(f"{name}[{k}].{m}: flowline {g.get(m)}, truth {w[m]}")
        extra = set(got) - set(want)
        if extra:
            bad.append(f"{name}: flowline has {sorted(extra)} the truth has not")
    # Connection states: every finished session's state as the truth
    # predicts it (SF for FIN closes, RSTO/RSTR for resets, S1 for
    # connections left open, REJ, S0, OTH for ICMP), and no other state.
    want_states = {k: v for k, v in truth["conn_state"].items() if v}
    for k in ("SF", "RSTO", "RSTR", "S1"):
        if not want_states.get(k):
            bad.append(f"the truth has no {k} connections: the generator should make some")
    if states != want_states:
        bad.append(f"conn_state: flowline {dict(sorted(states.items()))}, truth {dict(sorted(want_states.items()))}")
    te = truth["tcp_end"]
    if states.get("SF", 0) < te["fin"] or states.get("S1", 0) != te["open"]:
        bad.append(f"tcp_end {te}: flowline SF {states.get('SF')} S1 {states.get('S1')}")
    _, _, _, gen_keys, _ = totals(os.path.join(tmp, "gen.csv"))
    if gen_keys != keys:
        bad.append(f"input.gen -> flowmeter differs from pcap -> flowmeter ({len(gen_keys)} vs {len(keys)} flows)")
    for b in bad:
        print("FAIL", b)
    print(f"{flows} biflows, {sum(v['packets'] for v in by_proto.values())} packets; "
          f"by protocol {json.dumps(by_proto)}; conn_state {json.dumps(dict(sorted(states.items())))}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
