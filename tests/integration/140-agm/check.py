#!/usr/bin/python3
"""aggregate.agm (AGM and NAGM) against an independent computation from tshark.

usage: check.py DATA_DIR TMP_DIR   (FLOWLINE_BIN and FLOWLINE_SRC in the environment)
"""
import csv, ipaddress, json, os, subprocess, sys
from collections import Counter, defaultdict

# Real captures with many TCP packets from several sources over several
# windows; none has IP fragments, tunnels or timestamps going back by more
# than the allowed lateness (the script fails if one does: see README.md).
CAPTURES = [
    "ndpi_netflix.pcap",     # 18 IPv4 TCP sources over 90 s, some UDP/ICMP
    "ndpi_alexa-app.pcap",   # 25 sources over 174 s
    "ndpi_gnutella.pcap",    # 67 sources over 532 s
    "ndpi_webex.pcap",       # 26 sources over 117 s
    "ndpi_teams.pcap",       # 25 sources over 25 s: many 1 s windows
    "ndpi_reddit.pcap",      # IPv6 only
    "ndpi_wechat.pcap",      # an hour: windows with gaps
]
FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport",
          "sctp.dstport", "ip.ttl", "ipv6.hlim", "tcp.flags", "ip.len", "ipv6.plen",
          "ip.flags.mf", "ip.frag_offset", "ipv6.fragment", "ipv6.hopopts.nxt", "ipv6.dstopts.nxt",
          "ipv6.routing.nxt"]
EXT6 = {0: "ipv6.hopopts.nxt", 60: "ipv6.dstopts.nxt", 43: "ipv6.routing.nxt"}
AGMF = ["dst_addr", "src_port", "dst_port", "ttl", "proto", "tcp_flags", "ip_len"]
HOT = {"src_port": 9, "dst_port": 9, "tcp_flags": 15}
HERE = os.path.dirname(os.path.abspath(__file__))
S = 10**9
failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 20:
        print("FAIL:", msg)


def first(v):
    return v.split(",")[0] if v else ""


def addr_key(a):
    """The address as flowline orders it: 16 bytes, IPv4 mapped."""
    ip = ipaddress.ip_address(a)
    if ip.version == 4:
        ip = ipaddress.IPv6Address("::ffff:" + a)
    return int(ip)


def ns(t):
    sec, _, frac = t.partition(".")
    return int(sec) * S + int((frac + "000000000")[:9])


def packets(path, tcp_only):
    """Every packet as (t_ns, src, {field: value}) from tshark, outer IP
    header only; fails on what the comparison does not model."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = []
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        v4, v6 = v["ip.src"], v["ipv6.src"]
        if not v4 and not v6:
            continue   # not IP: input.pcap drops it too
        if v4 and v6 or "," in v4 or "," in v6:
            proto = int(first(v["ip.proto"] or v["ipv6.nxt"]))
            if proto not in (1, 58):   # tunnels: not in these captures
                fail(f"{path}: a packet with nested IP headers (proto {proto})")
                continue
        if first(v["ip.flags.mf"]) in ("1", "True") or first(v["ip.frag_offset"]) not in ("", "0") \
                or v["ipv6.fragment"]:
            fail(f"{path}: a fragment")
            continue
        if v4:
            src, dst, proto = first(v4), first(v["ip.dst"]), int(first(v["ip.proto"]))
            ttl, iplen = int(first(v["ip.ttl"])), int(first(v["ip.len"]))
        else:
            src, dst = first(v6), first(v["ipv6.dst"])
            proto = int(first(v["ipv6.nxt"]))
            while proto in EXT6 and v[EXT6[proto]]:   # hop-by-hop, routing, dest. options
                proto = int(first(v[EXT6[proto]]))
            ttl, iplen = int(first(v["ipv6.hlim"])), int(first(v["ipv6.plen"])) + 40
        if tcp_only and proto != 6:
            continue
        sp = dp = 0
        for p, name in ((6, "tcp"), (17, "udp"), (132, "sctp")):
            if proto == p and v[name + ".srcport"]:
                sp, dp = int(first(v[name + ".srcport"])), int(first(v[name + ".dstport"]))
        flags = int(first(v["tcp.flags"]), 16) & 0xFF if proto == 6 and v["tcp.flags"] else 0
        res.append((ns(first(v["frame.time_epoch"])), src,
                    {"dst_addr": dst, "src_port": sp, "dst_port": dp, "ttl": ttl, "proto": proto,
                     "tcp_flags": flags, "ip_len": iplen}))
    return res


def iso_ns(text):
    """A CSV timestamp as output.csv writes it by default (RFC 3339, UTC, ns)."""
    import calendar, time
    whole, _, frac = text.rstrip("Z").partition(".")
    sec = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return sec * S + int((frac + "000000000")[:9])


def windows_of(t, length, hop):
    newest = t - t % hop
    st = newest
    while st > newest - length and st + length > t:
        yield st
        if st < hop:
            break
        st -= hop


def reference(pkts, length, hop):
    """(window_start, src) -> AGM features computed from scratch."""
    groups = defaultdict(list)
    for t, src, f in pkts:
        for st in windows_of(t, length, hop):
            groups[(st, ipaddress.ip_address(src))].append(f)
    ref = {}
    for key, fs in groups.items():
        row = {"packets": len(fs)}
        for x in AGMF:
            c = Counter(f[x] for f in fs)
            order = (lambda kv: (-kv[1], addr_key(kv[0]))) if x == "dst_addr" else \
                    (lambda kv: (-kv[1], kv[0]))
            mode, n = sorted(c.items(), key=order)[0]
            row[x + "_distinct"] = len(c)
            row[x + "_mode"] = ipaddress.ip_address(mode) if x == "dst_addr" else mode
            row[x + "_mode_packets"] = n
        ref[key] = row
    return ref


PIPELINE = """version: 1
stages:
  - id: capture
    use: input.pcap
    with: {{ path: "{path}" }}
  - id: agm
    use: aggregate.agm
    from: capture
    with:
      windows: {windows}
      nagm: {nagm}
      tcp_only: {tcp_only}
      allowed_lateness: 1d
  - id: out
    use: output.{fmt}
    from: agm
    with: {{ path: "{out}", time_format: epoch_ns, overwrite: true }}
"""


def run(path, out, fmt, windows, nagm, tcp_only):
    yml = out + ".yaml"
    with open(yml, "w") as fh:
        fh.write(PIPELINE.format(path=path, out=out, fmt=fmt, windows=windows,
                                 nagm="true" if nagm else "false",
                                 tcp_only="true" if tcp_only else "false"))
    r = subprocess.run([os.environ["FLOWLINE_BIN"], "run", "-v", "--no-progress", yml],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"flowline failed on {path}:\n{r.stderr}")
    for word in ("late=", "sources_evicted=", "records_no_time="):
        for line in r.stderr.splitlines():
            if "(aggregate.agm)" in line and word in line:
                fail(f"{path}: {line.strip()} (expected none)")


def check_agm(path, tmp, windows, specs, tcp_only):
    pkts = packets(path, tcp_only)
    out = os.path.join(tmp, "agm.csv")
    run(path, out, "csv", windows, False, tcp_only)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    want_cols = ["window_start", "window_end", "window", "src_addr", "packets"] + \
        [x + s for x in AGMF for s in ("_distinct", "_mode", "_mode_packets")]
    if rows and list(rows[0].keys()) != want_cols:
        fail(f"AGM columns {list(rows[0].keys())}")
    got = {}
    for r in rows:
        key = (int(r["window_start"]), int(float(r["window"]) * S), ipaddress.ip_address(r["src_addr"]))
        if key in got:
            fail(f"{path}: row twice: {key}")
        if int(r["window_end"]) - int(r["window_start"]) != key[1]:
            fail(f"{path}: window_end {r['window_end']} of {key}")
        got[key] = r
    n = 0
    for length, hop in specs:
        ref = reference(pkts, length, hop)
        for (st, src), want in ref.items():
            g = got.pop((st, length, src), None)
            if g is None:
                fail(f"{path}: no row for window {st} ({length / S} s) source {src}")
                continue
            for k, v in want.items():
                gv = ipaddress.ip_address(g[k]) if k == "dst_addr_mode" else int(g[k])
                if gv != v:
                    fail(f"{path}: {src} window {st} ({length / S} s) {k}: flowline {g[k]}, tshark {v}")
            n += 1
    for key in got:
        fail(f"{path}: extra row {key}")
    return n, len(pkts)


def check_nagm(path, tmp, tcp_only):
    pkts = packets(path, tcp_only)
    out = os.path.join(tmp, "nagm.json")
    run(path, out, "json", "[10s]", True, tcp_only)
    ref = reference(pkts, 10 * S, 10 * S)
    by_win = defaultdict(dict)
    for (st, src), row in ref.items():
        by_win[st][src] = row
    got = defaultdict(dict)
    with open(out) as fh:
        for line in fh:
            d = json.loads(line)
            got[d["window_start"]][ipaddress.ip_address(d["src_addr"])] = d
    if set(got) != set(by_win):
        fail(f"{path}: NAGM windows {sorted(got)} vs {sorted(by_win)}")
    n = 0
    for st, srcs in by_win.items():
        # the documented column list, with this window's top values
        names = ["window_start", "window_end", "window", "src_addr", "packets"]
        tops = {}
        for x in AGMF:
            if x == "proto":
                continue
            names.append(x + "_distinct")
            if x in HOT:
                c = Counter(r[x + "_mode"] for r in srcs.values())
                top = sorted(v for v, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:HOT[x]])
                tops[x] = top
                names += [f"{x}_mode_{v}" for v in top]
                names += [f"{x}_mode_unused{i + 1}" for i in range(HOT[x] - len(top))]
                names.append(x + "_mode_other")
            elif x != "dst_addr":
                names.append(x + "_mode")
            names.append(x + "_mode_packets")
        if len(names) != 4 + 51:
            fail(f"reference NAGM has {len(names) - 4} features")
        for src, want in srcs.items():
            g = got[st].get(src)
            if g is None:
                fail(f"{path}: NAGM: no row for window {st} source {src}")
                continue
            if list(g.keys()) != names:
                fail(f"{path}: NAGM columns of window {st}: {list(g.keys())} vs {names}")
                continue
            for k, v in want.items():
                if k in g and k != "dst_addr_mode" and g[k] != v:
                    fail(f"{path}: NAGM {src} window {st} {k}: flowline {g[k]}, tshark {v}")
            for x, top in tops.items():
                m = want[x + "_mode"]
                for v in top:
                    if g[f"{x}_mode_{v}"] != (1 if m == v else 0):
                        fail(f"{path}: NAGM {src} window {st} {x}_mode_{v} = {g[f'{x}_mode_{v}']}")
                if g[x + "_mode_other"] != (0 if m in top else 1):
                    fail(f"{path}: NAGM {src} window {st} {x}_mode_other")
            n += 1
        if len(got[st]) != len(srcs):
            fail(f"{path}: NAGM window {st}: {len(got[st])} rows, tshark {len(srcs)}")
    return n


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    total = 0
    for c in CAPTURES:
        path = os.path.join(data, "pcap", c)
        n, np = check_agm(path, tmp, "[1s, 30s/10s]", [(S, S), (30 * S, 10 * S)], True)
        m = check_nagm(path, tmp, True)
        print(f"{c}: {np} TCP packets, {n} AGM rows (1s, 30s/10s), {m} NAGM rows (10s)")
        total += n + m
    # every IP packet: UDP, ICMP (ports 0) and TCP
    for c in ("ndpi_netflix.pcap", "ndpi_gnutella.pcap"):
        path = os.path.join(data, "pcap", c)
        n, np = check_agm(path, tmp, "[10s]", [(10 * S, 10 * S)], False)
        m = check_nagm(path, tmp, False)
        print(f"{c} (tcp_only: false): {np} IP packets, {n} AGM rows, {m} NAGM rows")
        total += n + m
    # conf/examples/agm.yaml as a user runs it: 1-minute windows, TCP only
    path = os.path.join(data, "pcap", "ndpi_gnutella.pcap")
    out = os.path.join(tmp, "example.csv")
    ex = os.path.join(os.environ["FLOWLINE_SRC"], "conf/examples/agm.yaml")
    r = subprocess.run([os.environ["FLOWLINE_BIN"], "run", "-v", "--no-progress", ex],
                       env=dict(os.environ, PCAP=path, OUT=out), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"conf/examples/agm.yaml failed:\n{r.stderr}")
    ref = reference(packets(path, True), 60 * S, 60 * S)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != len(ref):
        fail(f"example: {len(rows)} rows, tshark {len(ref)}")
    for g in rows:
        want = ref.get((iso_ns(g["window_start"]), ipaddress.ip_address(g["src_addr"])))
        if want is None:
            fail(f"example: extra row {g['window_start']} {g['src_addr']}")
            continue
        for k, v in want.items():
            gv = ipaddress.ip_address(g[k]) if k == "dst_addr_mode" else int(g[k])
            if gv != v:
                fail(f"example: {g['src_addr']} {g['window_start']} {k}: {g[k]} vs {v}")
    print(f"conf/examples/agm.yaml: {len(rows)} rows (1 min)")
    total += len(rows)
    # sFlow flow samples are packet records too: every sampled IP packet of
    # the shared sFlow captures lands in exactly one row
    yml = os.path.join(tmp, "sflow.yaml")
    out = os.path.join(tmp, "sflow.csv")
    with open(yml, "w") as fh:
        fh.write(f"""version: 1
stages:
  - {{ id: sflow, use: input.sflow, with: {{ path: "{os.path.join(data, 'sflow')}" }} }}
  - id: agm
    use: aggregate.agm
    from: sflow
    with: {{ windows: [1m], tcp_only: false, allowed_lateness: 1d }}
  - {{ id: out, use: output.csv, from: agm, with: {{ path: "{out}", overwrite: true }} }}
""")
    r = subprocess.run([os.environ["FLOWLINE_BIN"], "run", "-v", "--no-progress", yml],
                       capture_output=True, text=True)
    line = next((l for l in r.stderr.splitlines() if "(input.sflow)" in l), "")
    flow_rows = int(line.split("flow_rows=")[1].split()[0]) if "flow_rows=" in line else -1
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    if flow_rows <= 0 or sum(int(x["packets"]) for x in rows) != flow_rows:
        fail(f"sflow: rows add up to {sum(int(x['packets']) for x in rows)} packets, "
             f"input.sflow gave {flow_rows} flow rows")
    print(f"input.sflow: {flow_rows} flow samples in {len(rows)} rows")
    if not total:
        fail("nothing compared")
    if failures:
        sys.exit(f"{len(failures)} differences")
    print(f"OK: {total} rows equal")


main()
