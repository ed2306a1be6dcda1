#!/usr/bin/python3
"""Cross-check flowline's flow features against tshark on real captures.

usage: check.py DATA_DIR TMP_DIR   (FLOWLINE_BIN in the environment)
"""
import csv, ipaddress, math, os, subprocess, sys

CAPTURES = [
    "ndpi_1kxun.pcap",          # IPv4 + IPv6, ~200 flows, TCP and UDP
    "ndpi_443-firefox.pcap",    # one long TCP connection (TCP-heavy)
    "ndpi_bot.pcap",            # 802.1Q VLAN-tagged TCP
    "ndpi_reddit.pcap",         # IPv6 only, 60 TCP connections
    "ndpi_KakaoTalk_talk.pcap", # Linux SLL link type
    "ndpi_smtp-starttls.pcap",  # IPv4 and VLAN-tagged IPv6
    "ndpi_quic-v2.pcapng",      # pcapng (read through libpcap), IPv6 UDP
    "ndpi_dnp3.pcap",           # 8 TCP connections over three hours
]
FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto",
          "ipv6.nxt", "ip.len", "ipv6.plen", "tcp.srcport", "tcp.dstport", "tcp.len",
          "udp.srcport", "udp.dstport", "udp.length", "ip.flags.mf", "ip.frag_offset",
          "ip.hdr_len", "tcp.hdr_len", "tcp.flags"]
HERE = os.path.dirname(os.path.abspath(__file__))


def tshark_flows(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    flows = {}
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        if v["ip.src"]:
            src, dst, proto, size = v["ip.src"], v["ip.dst"], int(v["ip.proto"]), int(v["ip.len"])
            if v["ip.flags.mf"] in ("1", "True") or v["ip.frag_offset"] not in ("", "0"):
                continue   # fragments: no captures with them are used here
        elif v["ipv6.src"]:
            src, dst, proto, size = v["ipv6.src"], v["ipv6.dst"], int(v["ipv6.nxt"]), int(v["ipv6.plen"]) + 40
        else:
            continue
        if proto == 6 and v["tcp.srcport"]:
            sp, dp = int(v["tcp.srcport"]), int(v["tcp.dstport"])
            if v["tcp.len"]:
                pay = int(v["tcp.len"])
            else:   # a segment cut by the snaplen: tshark gives no tcp.len; count from the IP length
                ip_hdr = int(v["ip.hdr_len"]) if v["ip.src"] else 40
                pay = max(0, size - ip_hdr - int(v["tcp.hdr_len"]))
        elif proto == 17 and v["udp.srcport"]:
            sp, dp, pay = int(v["udp.srcport"]), int(v["udp.dstport"]), int(v["udp.length"]) - 8
        else:
            continue   # compare TCP and UDP, whose payload both sides define alike
        a, b = (ipaddress.ip_address(src), sp), (ipaddress.ip_address(dst), dp)
        key = (proto,) + tuple(sorted([(str(a[0]), a[1]), (str(b[0]), b[1])]))
        ts = float(v["frame.time_epoch"])
        # src is the first sender, except that a TCP flow first seen at a
        # SYN-ACK belongs to the side whose SYN was missed (its receiver)
        synack = proto == 6 and v["tcp.flags"] and (int(v["tcp.flags"], 16) & 0x12) == 0x12
        first = (str(b[0]), dp) if synack else (str(a[0]), sp)
        f = flows.setdefault(key, {"src": first, "first": ts, "last": ts, "sizes": [], "pays": []})
        f["first"], f["last"] = min(f["first"], ts), max(f["last"], ts)   # timestamps may go backwards
        f["sizes"].append(size)
        f["pays"].append(pay)
    return flows


def stats(xs):
    n = len(xs)
    mean = sum(xs) / n
    return min(xs), max(xs), mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / n)


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def flowline_flows(path, out):
    env = dict(os.environ, PCAP=path, OUT=out)
    subprocess.run([os.environ["FLOWLINE_BIN"], "run", "-q", os.path.join(HERE, "pipeline.yaml")],
                   check=True, env=env)
    flows = {}
    with open(out) as f:
        for r in csv.DictReader(f):
            proto = int(r["proto"])
            if proto not in (6, 17):
                continue
            a = (str(ipaddress.ip_address(r["src_addr"])), int(r["src_port"]))
            b = (str(ipaddress.ip_address(r["dst_addr"])), int(r["dst_port"]))
            key = (proto,) + tuple(sorted([a, b]))
            if key in flows:
                raise SystemExit(f"{path}: flow {key} emitted twice")
            flows[key] = dict(r, src=a)
    return flows


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    failures, compared = 0, 0
    for name in CAPTURES:
        path = os.path.join(data, "pcap", name)
        want = tshark_flows(path)
        got = flowline_flows(path, os.path.join(tmp, name + ".csv"))
        if set(want) != set(got):
            print(f"FAIL {name}: flows only in tshark: {sorted(set(want) - set(got))[:5]}, "
                  f"only in flowline: {sorted(set(got) - set(want))[:5]}")
            failures += 1
            continue
        for key, w in want.items():
            g = got[key]
            smin, smax, savg, sstd = stats(w["sizes"])
            pmin, pmax, pavg, pstd = stats(w["pays"])
            expect = {"packets": len(w["sizes"]), "bytes": sum(w["sizes"]), "payload_bytes": sum(w["pays"]),
                      "nopay": sum(1 for p in w["pays"] if p == 0), "ps_min": smin, "ps_max": smax,
                      "ps_avg": savg, "ps_std": sstd, "pay_min": pmin, "pay_max": pmax,
                      "pay_avg": pavg, "pay_std": pstd, "duration": w["last"] - w["first"]}
            bad = [f"{k}: flowline {g[k]} tshark {v}" for k, v in expect.items() if not close(float(g[k]), v)]
            if g["src"] != w["src"]:
                bad.append(f"src: flowline {g['src']} tshark {w['src']}")
            if bad:
                failures += 1
                print(f"FAIL {name} {key}: " + "; ".join(bad))
            compared += 1
        print(f"ok   {name}: {len(want)} TCP/UDP flows agree")
    print(f"{compared} flows compared, {failures} failures")
    return 1 if failures or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
