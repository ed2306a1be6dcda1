#!/usr/bin/python3
"""aggregate.groupby as a user runs it, checked against an independent
computation: packets.yaml reads real captures and writes, in the same run,
the packets themselves (raw.csv) and four groupby stages; every aggregate
is recomputed here from raw.csv, grouped by the same keys and epoch-aligned
windows. Exact: counts, sums, mult, min, max, mean, stddev (1e-9
relative), count_distinct up to its exact bound (256); within the stated
error: quantiles (DDSketch, 1 % relative of the value of rank
floor(q (n - 1))) and count_distinct above the bound (HyperLogLog, 1.6 %
standard error: 5 sigma allowed). Then conf/examples/sflow-aggregates.yaml
on the shared sFlow captures, against the samples of the same captures."""
import csv, datetime, ipaddress, math, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CAPTURES = ["ndpi_tor.pcap", "ndpi_1kxun.pcap", "ndpi_http_ipv6.pcap", "ndpi_icmp-tunnel.pcap",
            "ndpi_netflix.pcap"]
S = 10**9
ALPHA, HLL_SE, EXACT = 0.01, 1.04 / math.sqrt(4096), 256
FAIL = []


def ns(ts):
    """'2013-11-07T10:54:25.420161000Z' -> ns since the epoch (exactly)."""
    day, frac = ts.rstrip("Z").split(".")
    d = datetime.datetime.strptime(day, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * S + int(frac.ljust(9, "0"))


def fmt_ts(t):
    d = datetime.datetime.fromtimestamp(t // S, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (t % S)


def windows(t, length, hop):
    """The epoch-aligned windows [start, start + length) holding t."""
    start = t - t % hop
    out = []
    while start + length > t and start >= 0:
        out.append((start, start + length))
        start -= hop
    return out


def run(pipeline, env, verbose=False):
    cmd = [os.environ["FLOWLINE_BIN"], "run", "--no-progress"] + (["-v"] if verbose else [])
    p = subprocess.run(cmd + [pipeline], env=dict(os.environ, **env), stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {pipeline}: exit {p.returncode}\n{p.stderr}")
    return p.stderr


def fail(msg):
    FAIL.append(msg)
    if len(FAIL) <= 20:
        print("FAIL " + msg)


def close(got, want, rel=1e-9):
    if want is None:
        return got == ""
    if got == "":
        return False
    g = float(got)
    if math.isinf(want) or math.isinf(g):
        return g == want
    return abs(g - want) <= rel * max(1.0, abs(want))


def quantile_ok(got, vals, q):
    x = sorted(vals)[math.floor(q * (len(vals) - 1))]
    return got != "" and abs(float(got) - x) <= ALPHA * abs(x) + 1e-9


def distinct_ok(got, vals, exact=EXACT):
    n = len(set(vals))
    if got == "":
        return False
    g = int(got)
    return g == n if n <= exact else abs(g - n) <= 5 * HLL_SE * n


def addr_bytes(a):
    ip = ipaddress.ip_address(a)
    return (ipaddress.IPv6Address("::ffff:" + a) if ip.version == 4 else ip).packed


def num(v):
    return None if v == "" else int(v)


def group(rows, keyf, length, hop):
    """{(window_start, window_end, key...): [rows]}."""
    g = {}
    for r in rows:
        for w in windows(ns(r["ts"]), length, hop):
            g.setdefault((fmt_ts(w[0]), fmt_ts(w[1])) + keyf(r), []).append(r)
    return g


def compare(name, out, want, width, checks):
    """out: the stage's rows; want: groups; checks(row, members) -> [(col, ok)]."""
    got = {}
    for r in out:
        k = (r["window_start"], r["window_end"]) + tuple(r[c] for c in width)
        if k in got:
            fail(f"{name}: group {k} written twice")
        got[k] = r
    if set(got) != set(want):
        fail(f"{name}: groups differ: only written {sorted(set(got) - set(want))[:3]}, "
             f"missing {sorted(set(want) - set(got))[:3]}")
        return
    for k, members in want.items():
        for col, ok in checks(got[k], members):
            if not ok:
                fail(f"{name} {k} {col}: got {got[k][col]!r}")


def vals(members, col):
    return [int(m[col]) for m in members if m[col] != ""]


def check_keyed(row, m):
    ip_len = vals(m, "ip_len")
    ttl = vals(m, "ttl")
    ts = [m_["ts"] for m_ in m]
    dst = [m_["dst_addr"] for m_ in m if m_["dst_addr"]]
    flags = vals(m, "tcp_flags")
    prod = None
    if ttl:
        prod = 1.0
        for t in ttl:
            prod *= t
    return [
        ("n", row["n"] == str(len(m))),
        ("n_sport", row["n_sport"] == str(len(vals(m, "src_port")))),
        ("bytes", row["bytes"] == (str(sum(ip_len)) if ip_len else "")),
        ("half_bytes", close(row["half_bytes"], sum(x / 2 for x in ip_len) if ip_len else None)),
        ("syn", row["syn"] == (str(sum(1 for f in flags if f % 4 >= 2)) if flags else "")),
        ("ttl_prod", close(row["ttl_prod"], prod)),
        ("len_min", row["len_min"] == (str(min(ip_len)) if ip_len else "")),
        ("len_max", row["len_max"] == (str(max(ip_len)) if ip_len else "")),
        ("first", row["first"] == min(ts, key=ns)),
        ("last", row["last"] == max(ts, key=ns)),
        ("dst_min", row["dst_min"] == (min(dst, key=addr_bytes) if dst else "")),
        ("len_mean", close(row["len_mean"], sum(ip_len) / len(ip_len) if ip_len else None)),
        ("len_sd", close(row["len_sd"], pstdev(ip_len) if ip_len else None, 1e-7)),
        ("p50", not ip_len and row["p50"] == "" or ip_len and quantile_ok(row["p50"], ip_len, 0.5)),
        ("p90", not ip_len and row["p90"] == "" or ip_len and quantile_ok(row["p90"], ip_len, 0.9)),
        ("p99", not ip_len and row["p99"] == "" or ip_len and quantile_ok(row["p99"], ip_len, 0.99)),
        ("dsts", distinct_ok(row["dsts"], dst)),
        ("dports", distinct_ok(row["dports"], vals(m, "dst_port"))),
    ]


def pstdev(v):
    mean = sum(v) / len(v)
    return math.sqrt(sum((x - mean) ** 2 for x in v) / len(v))


def check_whole(row, m):
    ip_len = vals(m, "ip_len")
    return [
        ("n", row["n"] == str(len(m))),
        ("bytes", row["bytes"] == (str(sum(ip_len)) if ip_len else "")),
        ("srcs", distinct_ok(row["srcs"], [x["src_addr"] for x in m if x["src_addr"]])),
        ("sports", distinct_ok(row["sports"], vals(m, "src_port"))),
        ("p50", not ip_len and row["p50"] == "" or ip_len and quantile_ok(row["p50"], ip_len, 0.5)),
        ("p95", not ip_len and row["p95"] == "" or ip_len and quantile_ok(row["p95"], ip_len, 0.95)),
        ("len_max", row["len_max"] == (str(max(ip_len)) if ip_len else "")),
    ]


def check_computed(row, m):
    ip_len = vals(m, "ip_len")
    return [("n", row["n"] == str(len(m))),
            ("bytes", row["bytes"] == (str(sum(ip_len)) if ip_len else ""))]


def packets(data, tmp):
    stats = {"rows": 0, "groups": 0, "hll": 0}
    for name in CAPTURES:
        out = os.path.join(tmp, name)
        os.makedirs(out)
        log = run(os.path.join(HERE, "packets.yaml"),
                  {"PCAP": os.path.join(data, "pcap", name), "OUTDIR": out}, verbose=True)
        rd = lambda f: list(csv.DictReader(open(os.path.join(out, f))))
        raw = rd("raw.csv")
        stats["rows"] += len(raw)
        keyed = group(raw, lambda r: (r["src_addr"], r["proto"]), 60 * S, 60 * S)
        stats["groups"] += len(keyed)
        compare(name + " keyed", rd("keyed.csv"), keyed, ["src_addr", "proto"], check_keyed)
        # workers: 2 split by src_addr: each instance holds whole groups
        cols = ["window_start", "window_end", "src_addr", "proto", "n", "bytes", "len_sd", "p90",
                "dports"]
        one = sorted(tuple(r[c] for c in cols) for r in rd("keyed.csv"))
        two = sorted(tuple(r[c] for c in cols) for r in rd("keyed2.csv"))
        if one != two:
            fail(f"{name}: workers: 2 wrote other rows than one instance")
        whole = {}
        for length, hop in ((10, 10), (120, 60)):
            for k, m in group(raw, lambda r: (), length * S, hop * S).items():
                whole[k] = m
        compare(name + " whole", rd("whole.csv"), whole, [], check_whole)

        def mod_key(r):
            return ("" if r["dst_port"] == "" else str(int(r["dst_port"]) % 1000),
                    "" if r["proto"] == "" else ("true" if r["proto"] == "6" else "false"))
        compare(name + " computed", rd("computed.csv"), group(raw, mod_key, 60 * S, 60 * S),
                ["port_mod", "tcp"], check_computed)
        # distinct_exact 16: HyperLogLog past 16 values
        hll = group(raw, lambda r: (), 60 * S, 60 * S)
        stats["hll"] += sum(len({r["src_port"] for r in m}) > 16 for m in hll.values())
        compare(name + " hll", rd("hll.csv"), hll, [], lambda row, m: [
            ("sports", distinct_ok(row["sports"], vals(m, "src_port"), 16)),
            ("dports", distinct_ok(row["dports"], vals(m, "dst_port"), 16)),
            ("pairs", distinct_ok(row["pairs"], [x["src_port"] + "/" + x["dst_port"] for x in m
                                                  if x["src_port"] and x["dst_port"]], 16))])
        # max_groups 2: at most two groups a window, each exact; every record
        # either aggregated or counted
        small = rd("small.csv")
        over = re.search(r"small \(aggregate.groupby\):.*?records_over_max_groups=(\d+)", log)
        over = int(over.group(1)) if over else 0
        per_win = {}
        for r in small:
            per_win[r["window_start"]] = per_win.get(r["window_start"], 0) + 1
        if max(per_win.values()) > 2:
            fail(f"{name} small: a window has more than max_groups rows")
        if sum(int(r["n"]) for r in small) + over != len(raw):
            fail(f"{name} small: {sum(int(r['n']) for r in small)} aggregated + {over} over "
                 f"max_groups != {len(raw)} records")
        by_src = group(raw, lambda r: (r["src_addr"],), 60 * S, 60 * S)
        for r in small:
            k = (r["window_start"], r["window_end"], r["src_addr"])
            if k not in by_src or int(r["n"]) != len(by_src[k]):
                fail(f"{name} small {k}: n {r['n']}")
        print(f"{name}: {len(raw)} packets, {len(keyed)} (window, src_addr, proto) groups, "
              f"{over} records over max_groups 2")
    return stats


def sflow_example(data, tmp):
    """conf/examples/sflow-aggregates.yaml on the shared sFlow captures,
    against their samples written by a plain input.sflow -> output.csv."""
    folder = os.path.join(data, "sflow")
    plain = os.path.join(tmp, "sflow-plain.yaml")
    samples = os.path.join(tmp, "samples.csv")
    open(plain, "w").write(f"version: 1\nstages:\n  - {{id: s, use: input.sflow, with: {{path: "
                           f"'{folder}'}}}}\n  - {{id: o, use: output.csv, from: s, with: "
                           f"{{path: '{samples}'}}}}\n")
    run(plain, {})
    by_src, total = os.path.join(tmp, "by-source.csv"), os.path.join(tmp, "total.csv")
    run(os.path.join(ROOT, "conf", "examples", "sflow-aggregates.yaml"),
        {"REPLAY": folder, "OUT": by_src, "OUT_TOTAL": total})
    rows = list(csv.DictReader(open(samples)))
    if len(rows) < 10:
        fail(f"sflow: only {len(rows)} samples read")

    def common(row, m):
        frame = [int(x["frame_len"]) for x in m]
        rate = [int(x["sampling_rate"]) for x in m]
        return [("samples", row["samples"] == str(len(m))),
                ("packets", row["packets"] == str(sum(rate))),
                ("bytes", row["bytes"] == str(sum(f * r for f, r in zip(frame, rate)))),
                ("max_frame", row["max_frame"] == str(max(frame))),
                ("min_frame", row["min_frame"] == str(min(frame)))]

    def by_source(row, m):
        prod = 1.0
        for x in m:
            prod *= int(x["sampling_rate"])
        return common(row, m) + [
            ("rate_product", close(row["rate_product"], prod)),
            ("destinations", row["destinations"] == str(len({x["dst_addr"] for x in m}))),
            ("dst_ports", row["dst_ports"] == str(len({x["dst_port"] for x in m})))]

    def whole(row, m):
        return common(row, m) + [
            ("sources", row["sources"] == str(len({x["src_addr"] for x in m}))),
            ("agents", row["agents"] == str(len({x["agent"] for x in m})))]
    want = group(rows, lambda r: (r["agent"], r["src_addr"]), 60 * S, 60 * S)
    compare("sflow by_source", list(csv.DictReader(open(by_src))), want, ["agent", "src_addr"],
            by_source)
    want_total = group(rows, lambda r: (), 60 * S, 60 * S)
    compare("sflow total", list(csv.DictReader(open(total))), want_total, [], whole)
    print(f"sflow-aggregates.yaml: {len(rows)} samples, {len(want)} (window, agent, source) "
          f"groups, {len(want_total)} windows")


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    st = packets(data, tmp)
    sflow_example(data, tmp)
    print(f"{st['rows']} packets, {st['groups']} keyed groups, {st['hll']} windows with "
          f"more than 16 distinct source ports (HyperLogLog)")
    if FAIL:
        print(f"{len(FAIL)} failures")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
