#!/usr/bin/python3
"""aggregate.hoststats as a user runs it, checked against computations made
here from independent sources.

1. Packets (pcap -> hoststats, packets.yaml) on real captures: every row of
   every window (10s, 30s, 1m, 5m) equals what this script computes from
   tshark's fields (packets, bytes, distinct peers and ports, TCP flags per
   host and epoch-aligned window), both with every address a host and with
   `hosts:` restricted to the capture's private networks; and each window
   length's packets add up to the capture's.
2. Flows: conf/examples/host-profiles.yaml (pcap -> flowmeter -> hoststats
   -> CSV) on the same captures equals this script's aggregation of the
   flow meter's own records (flows.yaml), windows by flow_end; each window
   length's flows, packets and bytes add up to the flow records' totals.
3. Generated traffic with many hosts (generated.yaml): distinct peers and
   ports equal the exact counts (from the packets, counted here) while a
   row says they are exact, and stay within the stated HyperLogLog error
   (1.04/sqrt(m)) when estimated.
4. 1 M distinct hosts (million.yaml): with max_hosts 20000 the resident
   memory stays far below the unbounded run's, evictions are counted and
   flagged, and the packets still add up.

usage: check.py DATA_DIR TMP_DIR   (FLOWLINE_BIN in the environment)
"""
import csv, ipaddress, math, os, re, subprocess, sys
from collections import defaultdict
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
# (capture, check flows too). Two captures jump years forward in time: the
# flow meter emits the flows from before the jump after it, when every
# window they belong to has closed, so they are late (counted, not merged;
# docs/windows.md) and the flow check skips them; their packets are in
# time order and are checked.
CAPTURES = [
    ("ndpi_1kxun.pcap", False),         # IPv4 + IPv6, TCP and UDP, many hosts; jumps 6 years
    ("ndpi_smtp-starttls.pcap", False), # IPv4 and VLAN-tagged IPv6; jumps 5 years
    ("ndpi_netflix.pcap", True),        # one client, many servers
    ("ndpi_bot.pcap", True),            # 802.1Q VLAN-tagged TCP
    ("ndpi_reddit.pcap", True),         # IPv6 only
    ("ndpi_dnp3.pcap", True),           # three hours: many windows of each length
    ("ndpi_443-firefox.pcap", True),    # one long TCP connection: active-timeout cuts
    ("ndpi_KakaoTalk_talk.pcap", True), # Linux SLL link type
    ("ndpi_quic-v2.pcapng", True),      # pcapng, IPv6 UDP
]
WINDOWS = [10, 30, 60, 300]
S = 10**9
PRIVATE = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
          "ipv6.nxt", "ip.len", "ipv6.plen", "tcp.srcport", "tcp.dstport", "udp.srcport",
          "udp.dstport", "tcp.flags"]
FLAGS = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"]
NUM = ["src_flows", "src_packets", "src_bytes", "dst_flows", "dst_packets", "dst_bytes",
       "peers", "src_ports", "dst_ports"] + ["tcp_" + f for f in FLAGS]
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL:", msg)


def run(pipeline, peak=None, **env):
    """flowline run; returns the stage counters printed by -v. With peak (a
    dict), peak["kib"] gets the run's peak resident memory (VmHWM, polled
    every 10 ms: getrusage's children figure is the largest child so far,
    tshark included)."""
    import tempfile, time
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([os.environ["FLOWLINE_BIN"], "run", "--no-progress", "-v", pipeline],
                             env=dict(os.environ, **env), stderr=err, text=True)
        hwm = 0
        while p.poll() is None:
            if peak is not None:
                try:
                    for line in open(f"/proc/{p.pid}/status"):
                        if line.startswith("VmHWM:"):
                            hwm = max(hwm, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.01)
        err.seek(0)
        stderr = err.read()
    if peak is not None:
        peak["kib"] = hwm
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {pipeline} {env}: exit {p.returncode}\n{stderr}")
    counters = {}
    for m in re.finditer(r"^\s+(\S+) \(([\w.]+)\): (.*)$", stderr, re.M):
        counters[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(3))}
    return counters


def ns(text):
    """RFC 3339 with 9 digits, or seconds with decimals, to integer ns."""
    if "T" in text:
        import calendar
        date, frac = text.rstrip("Z").split(".")
        secs = calendar.timegm(__import__("time").strptime(date, "%Y-%m-%dT%H:%M:%S"))
        return secs * S + int(frac.ljust(9, "0"))
    return int(Decimal(text) * S)


def read_rows(path):
    """The CSV's rows; no file when the stage wrote no row."""
    return list(csv.DictReader(open(path))) if os.path.exists(path) else []


def addr(text):
    return ipaddress.ip_address(text).compressed


def in_nets(a, nets):
    ip = ipaddress.ip_address(a)
    return any(ip.version == n.version and ip in n for n in nets)


class Host:
    def __init__(self):
        self.n = defaultdict(int)
        self.peers, self.sports, self.dports = set(), set(), set()
        self.dur_sum = self.dur_n = 0
        self.flows = False


def tshark_packets(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o",
           "ipv6.defragment:FALSE", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    pkts = []
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        if v["ip.src"]:
            src, dst, proto, size = v["ip.src"], v["ip.dst"], int(v["ip.proto"]), int(v["ip.len"])
        elif v["ipv6.src"]:
            src, dst, proto = v["ipv6.src"], v["ipv6.dst"], int(v["ipv6.nxt"])
            size = int(v["ipv6.plen"]) + 40
        else:
            continue
        sp = dp = None
        if proto == 6 and v["tcp.srcport"]:
            sp, dp = int(v["tcp.srcport"]), int(v["tcp.dstport"])
        elif proto == 17 and v["udp.srcport"]:
            sp, dp = int(v["udp.srcport"]), int(v["udp.dstport"])
        flags = int(v["tcp.flags"], 16) & 0xff if proto == 6 and v["tcp.flags"] else 0
        pkts.append((ns(v["frame.time_epoch"]), addr(src), addr(dst), size, sp, dp, flags))
    return pkts


def add_side(h, sent, pk, by, sport, dport, flags, peer, role_flow, dur):
    """One record's share for one host: `sent` packets/bytes from it."""
    side = "src" if sent else "dst"
    h.n[side + "_packets"] += pk
    h.n[side + "_bytes"] += by


def ref_packets(pkts, nets):
    ref = defaultdict(Host)
    for t, src, dst, size, sp, dp, flags in pkts:
        for L in WINDOWS:
            w = t - t % (L * S)
            if nets is None or in_nets(src, nets):
                h = ref[(L, w, src)]
                h.n["src_packets"] += 1
                h.n["src_bytes"] += size
                h.peers.add(dst)
                if sp is not None:
                    h.sports.add(sp)
                    h.dports.add(dp)
                for i, f in enumerate(FLAGS):
                    h.n["tcp_" + f] += flags >> i & 1
            if nets is None or in_nets(dst, nets):
                h = ref[(L, w, dst)]
                h.n["dst_packets"] += 1
                h.n["dst_bytes"] += size
                h.peers.add(src)
    return ref


def ref_flows(flows, nets):
    ref = defaultdict(Host)
    for f in flows:
        t = ns(f["flow_end"])
        proto = int(f["proto"])
        ports = proto in (6, 17, 132, 33, 136)
        sp, dp = int(f["src_port"]), int(f["dst_port"])
        fp, fb, rp, rb = (int(f[k]) for k in ("fwd_packets", "fwd_bytes", "rev_packets", "rev_bytes"))
        dur = ns(f["duration"])
        ff, rf = int(f["fwd_tcp_flags"] or 0), int(f["rev_tcp_flags"] or 0)
        s, d = addr(f["src_addr"]), addr(f["dst_addr"])
        for L in WINDOWS:
            w = t - t % (L * S)
            if nets is None or in_nets(s, nets):
                h = ref[(L, w, s)]
                h.flows = True
                h.n["src_flows"] += 1
                h.n["src_packets"] += fp
                h.n["src_bytes"] += fb
                h.n["dst_packets"] += rp
                h.n["dst_bytes"] += rb
                h.dur_sum += dur
                h.dur_n += 1
                h.peers.add(d)
                if ports and fp:
                    h.sports.add(sp)
                    h.dports.add(dp)
                for i, fl in enumerate(FLAGS):
                    h.n["tcp_" + fl] += ff >> i & 1
            if nets is None or in_nets(d, nets):
                h = ref[(L, w, d)]
                h.flows = True
                h.n["dst_flows"] += 1
                h.n["dst_packets"] += fp
                h.n["dst_bytes"] += fb
                h.n["src_packets"] += rp
                h.n["src_bytes"] += rb
                h.dur_sum += dur
                h.dur_n += 1
                h.peers.add(s)
                if ports and rp:
                    h.sports.add(dp)
                    h.dports.add(sp)
                for i, fl in enumerate(FLAGS):
                    h.n["tcp_" + fl] += rf >> i & 1
    return ref


def compare(what, rows, ref, flows):
    got = {}
    for r in rows:
        key = (int(Decimal(r["window"])), ns(r["window_start"]), addr(r["host"]))
        if key in got:
            fail(f"{what}: two rows for {key}")
        got[key] = r
        if ns(r["window_end"]) - ns(r["window_start"]) != key[0] * S:
            fail(f"{what}: {key} window_end - window_start != window")
    if set(got) != set(ref):
        fail(f"{what}: rows {len(got)} vs expected {len(ref)}; missing "
             f"{sorted(set(ref) - set(got))[:3]}, extra {sorted(set(got) - set(ref))[:3]}")
    bad = 0
    for key in set(got) & set(ref):
        r, h = got[key], ref[key]
        want = dict(h.n)
        want.update(peers=len(h.peers), src_ports=len(h.sports), dst_ports=len(h.dports))
        for k in NUM:
            if not flows and k in ("src_flows", "dst_flows"):
                if r[k] != "":
                    fail(f"{what}: {key} {k} = {r[k]!r}, want missing (packet records)")
                continue
            if int(r[k]) != want.get(k, 0):
                bad += 1
                if bad <= 5:
                    fail(f"{what}: {key} {k} = {r[k]}, want {want.get(k, 0)}")
        if flows:
            avg = h.dur_sum // h.dur_n
            if ns(r["avg_duration"]) != avg:
                fail(f"{what}: {key} avg_duration {r['avg_duration']} want {avg} ns")
        elif r["avg_duration"] != "":
            fail(f"{what}: {key} avg_duration {r['avg_duration']!r} want missing")
        if r["estimated"] != "false" or r["evicted"] != "false":
            fail(f"{what}: {key} estimated/evicted set on a small capture")
    return got


def totals(what, rows, want):
    """Each window length's rows add up to the whole capture."""
    for L in WINDOWS:
        for k, v in want.items():
            s = sum(int(r[k] or 0) for r in rows if int(Decimal(r["window"])) == L)
            if s != v:
                fail(f"{what}: {L}s windows: sum of {k} = {s}, capture has {v}")


def real_captures(data, tmp):
    nets = [ipaddress.ip_network(n) for n in PRIVATE.split(",")]
    for cap, check_flows in CAPTURES:
        path = os.path.join(data, "pcap", cap)
        pkts = tshark_packets(path)
        # packets, every address a host, then private networks only
        for label, local in (("all", None), ("private", nets)):
            out = os.path.join(tmp, f"{cap}.{label}.packets.csv")
            env = dict(PCAP=path, OUT=out)
            if local:
                env["LOCAL_NETS"] = PRIVATE
            c = run(os.path.join(HERE, "packets.yaml"), **env)
            rows = read_rows(out)
            compare(f"{cap} packets/{label}", rows, ref_packets(pkts, local), False)
            if local is None:
                n, b = len(pkts), sum(p[3] for p in pkts)
                totals(f"{cap} packets", rows, {"src_packets": n, "dst_packets": n,
                                                 "src_bytes": b, "dst_bytes": b})
            if c["hosts"].get("late", 0):
                fail(f"{cap}: late records in a sorted capture")
            print(f"{cap} packets/{label}: {len(pkts)} packets, {len(rows)} rows")
        # flows: the example against the flow meter's own records
        if not check_flows:
            continue
        flows_csv = os.path.join(tmp, f"{cap}.flows.csv")
        run(os.path.join(HERE, "flows.yaml"), PCAP=path, OUT=flows_csv)
        flows = list(csv.DictReader(open(flows_csv)))
        for label, local in (("all", None), ("private", nets)):
            out = os.path.join(tmp, f"{cap}.{label}.hosts.csv")
            env = dict(PCAP=path, OUT=out)
            if local:
                env["LOCAL_NETS"] = PRIVATE
            c = run(os.path.join(ROOT, "conf", "examples", "host-profiles.yaml"), **env)
            rows = read_rows(out)
            compare(f"{cap} flows/{label}", rows, ref_flows(flows, local), True)
            if local is None:
                sums = {k: sum(int(f[k]) for f in flows) for k in ("packets", "bytes")}
                totals(f"{cap} flows", rows, {"src_flows": len(flows), "dst_flows": len(flows),
                                              "src_packets": sums["packets"],
                                              "dst_packets": sums["packets"],
                                              "src_bytes": sums["bytes"],
                                              "dst_bytes": sums["bytes"]})
            if c["hosts"].get("late", 0):
                fail(f"{cap}: {c['hosts']['late']} late flow records")
            print(f"{cap} flows/{label}: {len(flows)} flows, {len(rows)} rows")


def generated(tmp):
    c = run(os.path.join(HERE, "generated.yaml"), OUT=tmp)
    exact = defaultdict(lambda: (set(), set(), set()))
    for p in csv.DictReader(open(os.path.join(tmp, "packets.csv"))):
        for L in (10, 60):
            w = ns(p["ts"]) - ns(p["ts"]) % (L * S)
            s, d = addr(p["src_addr"]), addr(p["dst_addr"])
            e = exact[(L, w, s)]
            e[0].add(d)
            if int(p["proto"]) in (6, 17):
                e[1].add(int(p["src_port"]))
                e[2].add(int(p["dst_port"]))
            exact[(L, w, d)][0].add(s)
    for name, m, bound, least in (("default", 4096, 256, 5), ("mid", 4096, 64, 100),
                                  ("small", 1024, 16, 500)):
        sigma = 1.04 / math.sqrt(m)
        rows = list(csv.DictReader(open(os.path.join(tmp, name + ".csv"))))
        lengths = {int(r["window"]) for r in rows}
        want_rows = sum(1 for k in exact if k[0] in lengths)
        if len(rows) != want_rows or lengths != ({60} if name == "default" else {10, 60}):
            fail(f"generated/{name}: {len(rows)} rows of {lengths}, {want_rows} expected")
        n_exact = n_est = beyond3 = 0
        worst = 0.0
        for r in rows:
            e = exact[(int(r["window"]), ns(r["window_start"]), addr(r["host"]))]
            got = [int(r[k]) for k in ("peers", "src_ports", "dst_ports")]
            want = [len(x) for x in e]
            if r["estimated"] == "false":
                n_exact += 3
                if got != want:
                    fail(f"generated/{name}: {r['host']} exact {got} want {want}")
                if max(want) > bound:
                    fail(f"generated/{name}: {r['host']} counts {want} exactly past the bound")
                continue
            if max(want) <= bound:
                fail(f"generated/{name}: {r['host']} estimated below the bound: {want}")
            for g, x in zip(got, want):
                if x <= bound:
                    if g != x:   # this counter itself stayed exact
                        fail(f"generated/{name}: {r['host']} {g} want {x} (below bound)")
                    continue
                n_est += 1
                # the estimate is an integer: +-1 of it is rounding, not
                # HLL error (a small count's error is whole values)
                err = max(0, abs(g - x) - 1) / x
                worst = max(worst, err / sigma)
                beyond3 += err > 3 * sigma
                if err > 4 * sigma:
                    fail(f"generated/{name}: {r['host']} estimate {g} for {x}: "
                         f"{err / sigma:.1f} sigma")
        print(f"generated/{name}: {len(rows)} hosts, {n_exact} exact counts, {n_est} estimates "
              f"(worst {worst:.2f} sigma, {beyond3} beyond 3 sigma)")
        if n_est < least:
            fail(f"generated/{name}: only {n_est} counts crossed the bound")
        if beyond3 > max(1, n_est // 100):
            fail(f"generated/{name}: {beyond3} of {n_est} estimates beyond 3 sigma")


def million(tmp):
    rss = {}
    for max_hosts in (20000, 4000000):
        out = os.path.join(tmp, f"million.{max_hosts}.csv")
        peak = {}
        c = run(os.path.join(HERE, "million.yaml"), peak, OUT=out, MAX_HOSTS=str(max_hosts))
        rss[max_hosts] = peak["kib"]
        n = src = dst = flagged = 0
        hosts = set()
        for r in csv.DictReader(open(out)):
            n += 1
            src += int(r["src_packets"])
            dst += int(r["dst_packets"])
            flagged += r["evicted"] == "true"
            hosts.add(r["host"])
        ev = c["hosts"].get("hosts_evicted", 0)
        print(f"million max_hosts={max_hosts}: {n} rows, {len(hosts)} hosts, {ev} evicted, "
              f"max RSS {rss[max_hosts] // 1024} MiB")
        if src != 3000000 or dst != 3000000:
            fail(f"million/{max_hosts}: packets add up to {src}/{dst}, not 3000000")
        if ev != flagged:
            fail(f"million/{max_hosts}: hosts_evicted {ev} but {flagged} rows flagged")
        if max_hosts == 20000 and ev < 900000:
            fail(f"million/{max_hosts}: only {ev} evictions for over 1 M hosts")
        if max_hosts > 1000000 and ev:
            fail(f"million/{max_hosts}: {ev} evictions without pressure")
        if len(hosts) < 1000000:
            fail(f"million/{max_hosts}: {len(hosts)} distinct hosts, want over 1 M")
    grown = rss[4000000] - rss[20000]
    if grown < 150 * 1024:   # KiB: 1 M hosts at ~200 B each must show
        fail(f"million: the unbounded run grew only {grown} KiB over the bounded one")
    # bounded: the pipeline itself and 20000 hosts (~5 MiB) of the table;
    # AddressSanitizer's shadow memory and quarantine add a fixed share
    with open(os.environ["FLOWLINE_BIN"], "rb") as f:
        asan = b"__asan_init" in f.read()
    if rss[20000] > (192 if asan else 64) * 1024:
        fail(f"million: the bounded run peaked at {rss[20000]} KiB")
    print(f"million: bounded run {rss[20000] // 1024} MiB, unbounded {rss[4000000] // 1024} MiB")


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    real_captures(data, tmp)
    generated(tmp)
    million(tmp)
    if FAILS:
        print(f"{len(FAILS)} failures")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
