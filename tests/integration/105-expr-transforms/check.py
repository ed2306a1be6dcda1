#!/usr/bin/python3
"""transform.expr as a user runs it: conf/examples/seed003-transforms.yaml
(pcap -> flowmeter -> transform.geoip -> transform.expr -> CSV) on real
captures, checked row by row against the untransformed flows with the same
arithmetic done here in Python and the GeoIP columns as mmdblookup answers
for the MaxMind test databases; and the same shaping as a chain of transform.filter,
transform.expr, transform.rename and transform.select must write the
same file."""
import csv, ipaddress, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CAPTURES = ["ndpi_tor.pcap", "ndpi_openvpn.pcap", "ndpi_ftp.pcap", "ndpi_android.pcap"]
CITY = ASN = None
PRIVATE = [ipaddress.ip_network(n) for n in
           ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


GEO = {}


def mmdb(db, addr, *path):
    """mmdblookup's answer (a decoder nobody here wrote), "" when none."""
    key = (db, addr, path)
    if key not in GEO:
        p = subprocess.run(["mmdblookup", "--file", db, "--ip", addr, *path],
                           capture_output=True, text=True)
        m = re.search(r'^\s*("(?:[^"\\]|\\.)*"|\d+) <', p.stdout, re.M)
        GEO[key] = "" if not m else m.group(1).strip('"')
    return GEO[key]


def run(pipeline, pcap, out):
    env = dict(os.environ, PCAP=pcap, OUT=out, GEOIP_CITY=CITY, GEOIP_ASN=ASN)
    p = subprocess.run([os.environ["FLOWLINE_BIN"], "run", "--no-progress", pipeline],
                       env=env, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {pipeline} on {pcap}: exit {p.returncode}\n{p.stderr}")
    return list(csv.DictReader(open(out)))


def expected(row):
    """The example's where/compute/rename/select on one untransformed row."""
    proto, packets, bytes_ = int(row["proto"]), int(row["packets"]), int(row["bytes"])
    if proto not in (6, 17) or not packets > 1:
        return None
    dur = float(row["duration"])   # seconds
    kbit = bytes_ * 8 / 1000 / dur if dur != 0 else None
    share = int(row["payload_bytes"]) / bytes_ if bytes_ != 0 else None
    addr = ipaddress.ip_address(row["src_addr"])
    return {
        "flow_start": row["flow_start"], "src": row["src_addr"], "dst": row["dst_addr"],
        "src_port": row["src_port"], "service": row["dst_port"], "proto": row["proto"],
        "packets": row["packets"], "bytes": row["bytes"], "duration": row["duration"],
        "bytes_per_packet": bytes_ / packets, "kbit_per_s": kbit, "payload_share": share,
        "fwd_minus_rev": int(row["fwd_bytes"]) - int(row["rev_bytes"]),
        "internal": "true" if any(addr in n for n in PRIVATE if n.version == addr.version)
                    else "false",
        "src_country": mmdb(CITY, row["src_addr"], "country", "iso_code"),
        "src_city": mmdb(CITY, row["src_addr"], "city", "names", "en"),
        "dst_country": mmdb(CITY, row["dst_addr"], "country", "iso_code"),
        "dst_as": mmdb(ASN, row["dst_addr"], "autonomous_system_number"),
    }


def same(want, got):
    if want is None:
        return got == ""
    if isinstance(want, float):
        return got != "" and abs(float(got) - want) <= 1e-9 * max(1.0, abs(want))
    return str(want) == got


def main():
    global CITY, ASN
    data, tmp = sys.argv[1], sys.argv[2]
    CITY = os.path.join(data, "mmdb", "GeoIP2-City-Test.mmdb")
    ASN = os.path.join(data, "mmdb", "GeoLite2-ASN-Test.mmdb")
    example = os.path.join(ROOT, "conf", "examples", "seed003-transforms.yaml")
    total = kept = 0
    for name in CAPTURES:
        pcap = os.path.join(data, "pcap", name)
        out = os.path.join(tmp, name)
        plain = run(os.path.join(HERE, "plain.yaml"), pcap, out + ".plain.csv")
        shaped = run(example, pcap, out + ".shaped.csv")
        chain = run(os.path.join(HERE, "chain.yaml"), pcap, out + ".chain.csv")
        want = [e for e in (expected(r) for r in plain) if e is not None]
        if len(want) != len(shaped):
            print(f"FAIL {name}: {len(shaped)} rows written, expected {len(want)}")
            return 1
        if shaped and list(shaped[0].keys()) != list(want[0].keys()):
            print(f"FAIL {name}: columns {list(shaped[0].keys())}")
            return 1
        for i, (w, g) in enumerate(zip(want, shaped)):
            for k in w:
                if not same(w[k], g[k]):
                    print(f"FAIL {name} row {i} {k}: got {g[k]!r}, expected {w[k]!r}")
                    return 1
        if chain != shaped:
            print(f"FAIL {name}: the chain of stages wrote another file than the example")
            return 1
        total += len(plain)
        kept += len(shaped)
        print(f"{name}: {len(plain)} flows, {len(shaped)} kept and shaped, chain identical")
    if kept == 0 or kept == total:
        print("FAIL: the filter should keep some flows and drop others")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
