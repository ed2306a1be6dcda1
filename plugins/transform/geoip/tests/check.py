#!/usr/bin/env python3
"""transform.geoip as a user runs it: conf/examples/enrich-geoip.yaml on a
capture crafted here (UDP exchanges between addresses of the MaxMind test
databases, IPv4 and IPv6, and some in none), every cell of the CSV compared
with what mmdblookup prints for the same address; then `flowline check` on
every broken database of ../shared/data/mmdb: refused, exit 1, one message
naming the file, no crash.

usage: check.py FLOWLINE_BIN   (FLOWLINE_SRC, FLOWLINE_TEST_DATA[_DEFAULT] from ctest)
"""
import csv, ipaddress, os, re, struct, subprocess, sys, tempfile

flowline = sys.argv[1]
src = os.environ["FLOWLINE_SRC"]
data = os.environ.get("FLOWLINE_TEST_DATA") or os.environ.get("FLOWLINE_TEST_DATA_DEFAULT", "")
mmdb = os.path.join(data, "mmdb")
if not os.path.isdir(mmdb):
    sys.exit(f"test data not found: {mmdb} (set FLOWLINE_TEST_DATA)")
city = os.path.join(mmdb, "GeoIP2-City-Test.mmdb")
asn = os.path.join(mmdb, "GeoLite2-ASN-Test.mmdb")
fails = []

PAIRS = [("81.2.69.142", "89.160.20.112"), ("2001:218::1", "2a02:cf40::1"),
         ("216.160.83.56", "1.0.0.1"), ("10.0.0.1", "175.16.199.1"),
         ("2.125.160.216", "12.81.92.1"), ("2600:7000::1", "2001:480::1"),
         ("67.43.156.1", "192.0.2.1"), ("202.196.224.1", "1.128.0.1")]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def write_pcap(path):
    """One UDP query and reply per pair, classic pcap, Ethernet."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (s, d) in enumerate(PAIRS):
            s, d = ipaddress.ip_address(s), ipaddress.ip_address(d)
            for k, (a, b) in enumerate(((s, d), (d, s))):
                sp, dp = (40000 + i, 53) if k == 0 else (53, 40000 + i)
                udp = struct.pack("!HHHH", sp, dp, 12, 0) + b"test"
                if a.version == 4:
                    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                                     a.packed, b.packed)
                    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
                    et = 0x0800
                else:
                    ip = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64, a.packed, b.packed)
                    et = 0x86DD
                fr = b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", et) + ip + udp
                out.write(struct.pack("<IIII", 1767225600 + i, k * 1000, len(fr), len(fr)) + fr)


def mmdblookup(db, addr, *path):
    """The scalar mmdblookup prints, as a string, or None."""
    r = subprocess.run(["mmdblookup", "--file", db, "--ip", addr, *path],
                       capture_output=True, text=True)
    m = re.search(r'^\s*("?)(.*?)\1 <(utf8_string|double|uint\d+)>\s*$', r.stdout, re.M)
    return (m.group(2), m.group(3)) if m else None


ATTRS = {  # column suffix: (database, path)
    "country": (city, ["country", "iso_code"]), "city": (city, ["city", "names", "en"]),
    "lat": (city, ["location", "latitude"]), "lon": (city, ["location", "longitude"]),
    "asn": (asn, ["autonomous_system_number"]), "as_org": (asn, ["autonomous_system_organization"]),
}

with tempfile.TemporaryDirectory() as tmp:
    pcap, out = os.path.join(tmp, "t.pcap"), os.path.join(tmp, "flows-geo.csv")
    write_pcap(pcap)
    env = dict(os.environ, PCAP=pcap, GEOIP_CITY=city, GEOIP_ASN=asn, OUT=out)
    r = subprocess.run([flowline, "run", "-v", "--no-progress",
                        os.path.join(src, "conf/examples/enrich-geoip.yaml")],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"the example failed (exit {r.returncode}):\n{r.stderr}")
    counters = re.search(r"geo \(transform.geoip\): (.*)", r.stderr).group(1)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(PAIRS):
        fails.append(f"{len(rows)} flows, expected {len(PAIRS)}")
    cells = present = 0
    for row in rows:
        for side in ("src", "dst"):
            addr = row[f"{side}_addr"]
            for suffix, (db, path) in ATTRS.items():
                want = mmdblookup(db, addr, *path)
                got = row[f"{side}_{suffix}"]
                cells += 1
                if want is None:
                    ok = got == ""
                else:
                    present += 1
                    ok = (float(got) == float(want[0]) if want[1] == "double" and got
                          else got == want[0])
                if not ok:
                    fails.append(f"{addr} {side}_{suffix}: mmdblookup {want}, CSV {got!r}")
        # the example's expression stage: two known countries that differ
        sc, dc = row["src_country"], row["dst_country"]
        cross = "" if not sc or not dc else "true" if sc != dc else "false"
        if row["cross_border"] != cross:
            fails.append(f"cross_border {row['cross_border']!r} for {sc!r} -> {dc!r}")
    if sum(1 for r in rows if r["cross_border"]) == 0:
        fails.append("no flow with two known countries: cross_border untested")
    if present < 20:
        fails.append(f"only {present} values found: the addresses miss the test databases")
    if "not_found=" not in counters or "lookups=16" not in counters:
        fails.append(f"counters: {counters}")
    print(f"example: {len(rows)} flows, {cells} cells equal to mmdblookup ({present} present); {counters}")

    # Every broken database: `flowline check` refuses it with a message.
    broken = sorted(f for f in os.listdir(mmdb) if f.startswith("bad-data_") or "Broken" in f
                    or "broken" in f or "Invalid" in f)
    whole = {"bad-data_libmaxminddb_libmaxminddb-empty-array-last-in-metadata.mmdb",
             "bad-data_libmaxminddb_libmaxminddb-empty-map-last-in-metadata.mmdb"}
    for f in broken:
        path = os.path.join(mmdb, f)
        y = os.path.join(tmp, "p.yaml")
        with open(y, "w") as fh:
            fh.write("version: 1\nstages:\n"
                     f"  - {{ id: c, use: input.pcap, with: {{ path: {pcap} }} }}\n"
                     "  - { id: f, use: aggregate.flowmeter, from: c }\n"
                     f"  - {{ id: g, use: transform.geoip, from: f, with: {{ databases: [{path}] }} }}\n"
                     "  - { id: o, use: output.csv, from: g, with: { path: '-' } }\n")
        r = subprocess.run([flowline, "check", y], capture_output=True, text=True)
        if f in whole:   # well-formed: an empty container last in the metadata
            if r.returncode != 0:
                fails.append(f"{f}: refused, but it is well-formed: {r.stderr.strip()}")
            continue
        line = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
        if r.returncode != 1 or f"cannot use database {path}: " not in line:
            fails.append(f"{f}: exit {r.returncode}, stderr {r.stderr.strip()!r}")
        else:
            print(f"refused: {f}: {line.split(path + ': ', 1)[1]}")

for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
