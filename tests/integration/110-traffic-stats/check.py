#!/usr/bin/python3
"""aggregate.stats as a user runs it.

1. conf/examples/traffic-report.yaml (seed 002) on real captures: every row
   of every output equals the report computed here from the flow records
   (flows.yaml writes them), top-10 tables included (below the capacity
   they are exact); per window the protocols and the classes add up to the
   totals; per window length the totals add up to the whole capture; and
   the whole capture's packets and bytes are tshark's count of IP packets
   and sum of IP lengths.
2. The same on packet records (packets.yaml): each window's packets and
   bytes equal tshark's, grouped here by epoch-aligned minute and hour.
3. Heavy hitters (heavy.yaml): generated traffic with thousands of hosts,
   conversations and ports through tables of 300 keys; every reported
   count is within [true, true + error] and error <= total / 300 (the
   total the table saw: top_hosts sees each record twice, once per host),
   and every key whose true count beats both total / 300 and the last
   reported count is reported.

usage: check.py DATA_DIR TMP_DIR   (FLOWLINE_BIN in the environment)
"""
import calendar, csv, ipaddress, os, re, subprocess, sys, time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CAPTURES = [
    "ndpi_wechat.pcap",         # 66 minutes over two clock hours, TCP and UDP
    "ndpi_dnp3.pcap",           # three hours of TCP
    "ndpi_gnutella.pcap",       # 10 minutes, many peers
    "ndpi_alexa-app.pcap",      # 3 minutes, HTTPS and DNS
    "ndpi_reddit.pcap",         # IPv6 only
]
LENGTHS = [60, 3600]
# The example's classes (conf/examples/traffic-report.yaml).
CLASSES = [("http", {("tcp", 80), ("tcp", 8080), ("tcp", 8000)}),
           ("https", {("tcp", 443), ("udp", 443), ("tcp", 8443)}),
           ("dns", {("any", 53), ("tcp", 853)}),
           ("ssh", {("tcp", 22)})]
PNAME = {6: "tcp", 17: "udp", 33: "dccp", 132: "sctp", 136: "udplite"}
NS = 10**9


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(pipeline, env, what):
    p = subprocess.run([os.environ["FLOWLINE_BIN"], "run", "-v", "--no-progress", pipeline],
                       env=dict(os.environ, **env), stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail(f"{what}: exit {p.returncode}\n{p.stderr}")
    m = re.search(r"\(aggregate\.stats\):.*", p.stderr)
    counters = dict(kv.split("=") for kv in m.group(0).split()[1:]) if m else {}
    if int(counters.get("late", 0)):
        fail(f"{what}: {counters['late']} records late")
    return counters


def ts(text):
    """A CSV time (epoch ns, or RFC 3339 with nanoseconds) as ns."""
    if text.isdigit():
        return int(text)
    sec, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(sec, "%Y-%m-%dT%H:%M:%S")) * NS + int(frac.ljust(9, "0"))


def window_len(text):
    return int(round(float(text)))   # a dur column: seconds


def addr_key(text):
    a = ipaddress.ip_address(text)
    return (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed


def cls_of(proto, port):
    for name, ports in CLASSES:
        if (PNAME.get(proto), port) in ports or ("any", port) in ports:
            return name
    return None


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def add(d, key, q):
    v = d[key]
    for i in range(3):
        v[i] += q[i]


def counts():
    return defaultdict(lambda: [0, 0, 0])


def expected_report(flows, top_n, by):
    """Everything the stage should emit, from flow records (dicts of ints)."""
    exp = {k: defaultdict(counts) for k in ("totals", "protocols", "classes", "ports", "hosts",
                                              "convs")}
    for f in flows:
        q = (1, f["packets"], f["bytes"])
        for L in LENGTHS:
            w = (f["flow_end"] - f["flow_end"] % (L * NS), L)
            add(exp["totals"][w], (), q)
            add(exp["protocols"][w], f["proto"], q)
            c = None
            if f["proto"] in PNAME:
                s, o = f["dst_port"], f["src_port"]   # service_port auto, flow records: dst
                c = cls_of(f["proto"], s)
                if c is None and cls_of(f["proto"], o) is not None:
                    c, s = cls_of(f["proto"], o), o
                add(exp["ports"][w], (f["proto"], s), q)
            add(exp["classes"][w], c or "other", q)
            a, b = addr_key(f["src_addr"]), addr_key(f["dst_addr"])
            add(exp["hosts"][w], a, q)
            if b != a:
                add(exp["hosts"][w], b, q)
            add(exp["convs"][w], (min(a, b), max(a, b)), q)
    qi = {"flows": 0, "packets": 1, "bytes": 2}[by]

    def top(d):
        def keybytes(k):
            if isinstance(k, bytes):    # a host
                return k
            if isinstance(k[0], int):   # (proto, port): 4 bytes big-endian
                return bytes([0, k[0], k[1] >> 8, k[1] & 255])
            return k[0] + k[1]          # a conversation
        return sorted(d.items(), key=lambda kv: (-kv[1][qi], keybytes(kv[0])))[:top_n]
    for kind in ("ports", "hosts", "convs"):
        exp[kind] = {w: top(d) for w, d in exp[kind].items()}
    return exp


def window_of(row):
    return (ts(row["window_start"]), window_len(row["window"]))


def q_of(row):
    return [int(row["flows"]), int(row["packets"]), int(row["bytes"])]


def check_report(name, out, flows, top_n, by):
    exp = expected_report(flows, top_n, by)
    totals = {window_of(r): q_of(r) for r in read(out + "-totals.csv")}
    want = {w: d[()] for w, d in exp["totals"].items()}
    if totals != want:
        fail(f"{name}: totals {sorted(totals.items())[:5]} ... != {sorted(want.items())[:5]} ...")
    for r in read(out + "-totals.csv"):
        if ts(r["window_end"]) - ts(r["window_start"]) != window_len(r["window"]) * NS:
            fail(f"{name}: window_end - window_start != window in {r}")
    got = defaultdict(dict)
    for r in read(out + "-protocols.csv"):
        got[window_of(r)][int(r["proto"])] = q_of(r)
    if got != {w: dict(d) for w, d in exp["protocols"].items()}:
        fail(f"{name}: protocols differ")
    got = defaultdict(dict)
    for r in read(out + "-classes.csv"):
        got[window_of(r)][r["class"]] = q_of(r)
    for w, d in got.items():
        want = {c: exp["classes"][w].get(c, [0, 0, 0]) for c, _ in CLASSES + [("other", 0)]}
        if d != want:
            fail(f"{name}: classes of window {w}: {d} != {want}")
        if [sum(v[i] for v in d.values()) for i in range(3)] != totals[w]:
            fail(f"{name}: classes of window {w} do not add up to its totals")
    if set(got) != set(totals):
        fail(f"{name}: class rows for other windows than the totals")
    for w, d in exp["protocols"].items():
        if [sum(v[i] for v in d.values()) for i in range(3)] != totals[w]:
            fail(f"{name}: protocols of window {w} do not add up to its totals")
    for kind, file, keyf in (("ports", "top-ports", lambda r: (int(r["proto"]), int(r["port"]))),
                             ("hosts", "top-hosts", lambda r: addr_key(r["host"])),
                             ("convs", "top-conversations",
                              lambda r: (addr_key(r["host_a"]), addr_key(r["host_b"])))):
        got = defaultdict(list)
        for r in read(f"{out}-{file}.csv"):
            if int(r["error"]) != 0:
                fail(f"{name} {file}: error {r['error']} below the capacity")
            got[window_of(r)].append((int(r["rank"]), keyf(r), q_of(r)))
        want = {w: [(i + 1, k, v) for i, (k, v) in enumerate(t)] for w, t in exp[kind].items()}
        if dict(got) != {w: t for w, t in want.items() if t}:
            for w in sorted(want):
                if got.get(w) != want[w]:
                    fail(f"{name} {file} window {w}:\n got  {got.get(w)}\n want {want[w]}")
    whole = [len(flows), sum(f["packets"] for f in flows), sum(f["bytes"] for f in flows)]
    for L in LENGTHS:
        s = [sum(v[i] for (st, l), v in totals.items() if l == L) for i in range(3)]
        if s != whole:
            fail(f"{name}: the {L}s windows add up to {s}, the capture to {whole}")
    return totals, whole


def tshark_packets(path):
    """(time ns, IP length) of every IP packet, by tshark."""
    out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=f", "-e", "frame.time_epoch", "-e", "ip.len",
                          "-e", "ipv6.plen", "-Y", "ip or ipv6"],
                         check=True, capture_output=True, text=True).stdout
    pk = []
    for line in out.splitlines():
        t, iplen, plen = line.split("\t")
        sec, _, frac = t.partition(".")
        pk.append((int(sec) * NS + int(frac.ljust(9, "0")[:9]),
                   int(iplen) if iplen else int(plen) + 40))
    return pk


def check_packets(name, pcap, tmp, flow_whole):
    out = os.path.join(tmp, name + ".pk")
    run(os.path.join(HERE, "packets.yaml"), {"PCAP": pcap, "OUT": out}, name + " packets")
    want = defaultdict(lambda: [0, 0, 0])
    pk = tshark_packets(pcap)
    for t, n in pk:
        for L in LENGTHS:
            add(want, (t - t % (L * NS), L), (0, 1, n))
    got = {window_of(r): q_of(r) for r in read(out + "-totals.csv")}
    if got != dict(want):
        diff = [(w, got.get(w), want.get(w)) for w in sorted(set(got) | set(want))
                if got.get(w) != want.get(w)]
        fail(f"{name}: packet windows differ from tshark's: {diff[:5]}")
    if [len(pk), sum(n for _, n in pk)] != flow_whole[1:]:
        fail(f"{name}: tshark has {len(pk)} IP packets of {sum(n for _, n in pk)} bytes, "
             f"the flows {flow_whole[1:]}")
    for kind in ("protocols", "classes"):
        s = defaultdict(lambda: [0, 0, 0])
        for r in read(f"{out}-{kind}.csv"):
            add(s, window_of(r), q_of(r))
        if dict(s) != got:
            fail(f"{name}: packet {kind} do not add up to the totals")
    return len(got)


def check_heavy(tmp, by):
    out = os.path.join(tmp, "heavy-" + by)
    counters = run(os.path.join(HERE, "heavy.yaml"), {"OUT": out, "BY": by}, "heavy " + by)
    qi = {"flows": 0, "packets": 1, "bytes": 2}[by]
    exact = {k: defaultdict(int) for k in ("ports", "hosts", "convs")}
    total = 0
    for r in read(out + "-packets.csv"):
        w = int(r["ip_len"]) if qi == 2 else 1
        total += w
        proto, sp, dp = int(r["proto"]), int(r["src_port"]), int(r["dst_port"])
        if proto in PNAME:
            s = dp   # service_port: dst, then the default classes
            default = {("tcp", 80): 1, ("tcp", 8080): 1, ("tcp", 443): 1, ("udp", 443): 1,
                       ("any", 53): 1, ("tcp", 22): 1}
            hit = lambda p: (PNAME[proto], p) in default or ("any", p) in default
            if not hit(dp) and hit(sp):
                s = sp
            exact["ports"][(proto, s)] += w
        a, b = addr_key(r["src_addr"]), addr_key(r["dst_addr"])
        exact["hosts"][a] += w
        if a != b:
            exact["hosts"][b] += w
        exact["convs"][(min(a, b), max(a, b))] += w
    totals = read(out + "-totals.csv")
    if len(totals) != 1 or q_of(totals[0])[qi] != total:
        fail(f"heavy {by}: totals {totals} != {total}")
    replaced = 0
    for kind, file, keyf in (("ports", "top-ports", lambda r: (int(r["proto"]), int(r["port"]))),
                             ("hosts", "top-hosts", lambda r: addr_key(r["host"])),
                             ("convs", "top-conversations",
                              lambda r: (addr_key(r["host_a"]), addr_key(r["host_b"])))):
        # what the table saw: a record counts for both its hosts
        bound = sum(exact[kind].values()) / 300
        rows = read(f"{out}-{file}.csv")
        if len(exact[kind]) <= 300:
            fail(f"heavy {by}: only {len(exact[kind])} distinct {kind}: not a heavy-hitter test")
        if len(rows) != 40:
            fail(f"heavy {by} {file}: {len(rows)} rows, want 40")
        seen = set()
        for r in rows:
            k, v, err = keyf(r), q_of(r)[qi], int(r["error"])
            true = exact[kind].get(k, 0)
            if not (true <= v <= true + err and err <= bound):
                fail(f"heavy {by} {file}: {k} reported {v} error {err}, true {true}, "
                     f"bound {bound:.0f}")
            replaced += err > 0
            seen.add(k)
        last = q_of(rows[-1])[qi]
        for k, true in exact[kind].items():
            if true > bound and true > last and k not in seen:
                fail(f"heavy {by} {file}: {k} ({true}) is missing")
        worst = max(q_of(r)[qi] - exact[kind].get(keyf(r), 0) for r in rows)
        print(f"heavy {by} {file}: {len(exact[kind])} keys, 300 held, worst overcount {worst} "
              f"(bound {bound:.0f})")
    if not int(counters.get("top_replaced", 0)):
        fail(f"heavy {by}: nothing was replaced (top_replaced counter)")


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    example = os.path.join(ROOT, "conf", "examples", "traffic-report.yaml")
    for name in CAPTURES:
        pcap = os.path.join(data, "pcap", name)
        fcsv = os.path.join(tmp, name + ".flows.csv")
        run(os.path.join(HERE, "flows.yaml"), {"PCAP": pcap, "OUT": fcsv}, name + " flows")
        flows = []
        for r in read(fcsv):
            f = {k: int(r[k]) for k in ("flow_end", "proto", "src_port", "dst_port", "packets",
                                          "bytes")}
            f["src_addr"], f["dst_addr"] = r["src_addr"], r["dst_addr"]
            flows.append(f)
        out = os.path.join(tmp, name + ".report")
        run(example, {"PCAP": pcap, "OUT": out}, name + " example")
        totals, whole = check_report(name, out, flows, 10, "flows")
        nw = check_packets(name, pcap, tmp, whole)
        print(f"{name}: {len(flows)} flows in {len(totals)} windows, {whole[1]} packets, "
              f"{whole[2]} bytes as tshark counts; packet records: {nw} windows as tshark")
    for by in ("bytes", "packets"):
        check_heavy(tmp, by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
