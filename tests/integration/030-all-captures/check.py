#!/usr/bin/python3
"""Every capture through the pipeline; accounting of every packet; exact
outcomes: the captures in expected-failures.txt fail with their listed first
error, every other one exits 0.
usage: check.py DATA TMP"""
import os, re, struct, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["FLOWLINE_BIN"]
DROPS = ("drop_truncated", "drop_not_ip", "unsupported_linktype", "drop_bad_ip", "drop_bad_l4",
         "drop_bad_exthdr", "drop_encrypted", "drop_not_data", "drop_bad_link")
ERROR_PREFIX = "flowline: error: "


def counters(stderr):
    """stage id -> {counter: value} from the -v summary."""
    out = {}
    for line in stderr.splitlines():
        m = re.match(r"\s+(\S+) \((\S+)\):(.*)$", line)
        if m:
            out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(3))}
    return out


def expected_failures():
    """name -> (first error with {pcap} for the path, why), from expected-failures.txt."""
    out = {}
    with open(os.path.join(HERE, "expected-failures.txt")) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) != 3 or not all(parts) or parts[0] in out:
                raise SystemExit(f"expected-failures.txt:{n}: want NAME | FIRST ERROR | WHY, once per name")
            out[parts[0]] = (parts[1], parts[2])
    return out


# 802.11 behind radiotap (LINKTYPE 127): a UDP packet with an FCS, a beacon, a
# Protected data frame, a frame the radio marks as failing its FCS.
RT = bytes.fromhex("000012000700000000000000000000000002")
RT_FCS, RT_BAD = RT[:16] + b"\x10\x02", RT[:16] + b"\x40\x02"
W80211 = bytes.fromhex("080100000200000000010200000000020200000000031000aaaa030000000800")
IP4UDP = bytes.fromhex("4500001c123440004011000a0a010203c000020914e9003500080000")
WIFI = [RT_FCS + W80211 + IP4UDP + b"\xde\xad\xbe\xef",
        RT + bytes.fromhex("80000000ffffffffffff0200000000020200000000021000") + bytes(20),
        RT + bytes.fromhex("084100000200000000010200000000020200000000031000") + bytes(40),
        RT_BAD + W80211 + IP4UDP]
# Crafted captures whose input counters are known exactly.
EXACT = {"crafted/wifi-radiotap.pcap": {"packets_read": 4, "records_out": 1, "drop_not_data": 1,
                                        "drop_encrypted": 1, "drop_bad_link": 1}}


def crafted(tmp):
    """Broken captures written here, so the expected-failure path always runs;
    and odd but readable files that must still exit 0."""
    d = os.path.join(tmp, "crafted")
    os.makedirs(d)
    hdr = lambda major, minor: struct.pack("<IHHiIII", 0xA1B2C3D4, major, minor, 0, 0, 65535, 1)
    files = {
        "empty.pcap": b"",
        "text.pcap": b"this is not a capture\n",
        "short-header.pcap": hdr(2, 4)[:12],
        "bad-version.pcap": hdr(9, 9),
        # A record claiming 1 GiB: a warning, the rest skipped, exit 0.
        "huge-record.pcap": hdr(2, 4) + struct.pack("<IIII", 0, 0, 1 << 30, 1 << 30) + b"x" * 20,
        "wifi-radiotap.pcap": struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127) + b"".join(
            struct.pack("<IIII", 1700000000 + i, 0, len(f), len(f)) + f for i, f in enumerate(WIFI)),
    }
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return [("crafted/" + name, os.path.join(d, name)) for name in sorted(files)]


def first_error(stderr):
    for line in stderr.splitlines():
        if line.startswith(ERROR_PREFIX):
            return line[len(ERROR_PREFIX):]
    return None


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    expect = expected_failures()
    runs = [(name, os.path.join(data, "pcap", name)) for name in sorted(os.listdir(os.path.join(data, "pcap")))]
    runs += crafted(tmp)
    bad, failed_ok, totals = [], 0, {}
    for name in sorted(set(expect) - {n for n, _ in runs}):
        bad.append(f"{name}: listed in expected-failures.txt but there is no such capture")
    for name, path in runs:
        out = os.path.join(tmp, "out.csv")
        if os.path.exists(out):   # this test's own output of the previous capture
            os.unlink(out)
        env = dict(os.environ, PCAP=path, OUT=out)
        p = subprocess.run([BIN, "run", "-v", "--no-progress", os.path.join(HERE, "pipeline.yaml")],
                           env=env, capture_output=True, text=True, timeout=120)
        if p.returncode not in (0, 1) or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
            bad.append(f"{name}: exit {p.returncode}: {p.stderr[-2000:]}")
            continue
        if name in expect:
            want, why = expect[name]
            want = want.replace("{pcap}", path)
            got = first_error(p.stderr)
            if p.returncode == 0:
                bad.append(f"{name}: expected to fail ({why}) but exited 0")
            elif got != want:
                bad.append(f"{name}: failed with another error ({why}):\n  want: {want}\n  got:  {got}")
            else:
                failed_ok += 1
            continue
        if p.returncode != 0:
            bad.append(f"{name}: exit 1 (not in expected-failures.txt): {p.stderr[-2000:]}")
            continue
        c = counters(p.stderr)
        cap, flows = c.get("capture", {}), c.get("flows", {})
        read = cap.get("packets_read", 0)
        drops = sum(cap.get(k, 0) for k in DROPS)
        for k in DROPS + ("fragments", "truncated_record"):
            totals[k] = totals.get(k, 0) + cap.get(k, 0)
        totals["packets_read"] = totals.get("packets_read", 0) + read
        if read != cap.get("records_out", 0) + drops:
            bad.append(f"{name}: packets_read {read} != records {cap.get('records_out', 0)} + drops {drops}: {cap}")
        for k, v in EXACT.get(name, {}).items():
            if cap.get(k, 0) != v:
                bad.append(f"{name}: {k} = {cap.get(k, 0)}, want {v}: {cap}")
        if flows.get("records_in", 0) != cap.get("records_out", 0):
            bad.append(f"{name}: flowmeter got {flows.get('records_in', 0)} of {cap.get('records_out', 0)} records")
    for b in bad:
        print("FAIL", b)
    must_pass = sum(1 for n, _ in runs if n not in expect)
    print(f"{len(runs)} captures ({must_pass} must pass), {failed_ok} of {len(expect)}"
          f" expected failures failed as listed, totals: {totals}")
    if totals.get("packets_read", 0) == 0 or sum(totals.get(k, 0) for k in DROPS) == 0:
        print("FAIL: no packets read or no malformed packet counted: the test did not exercise anything")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
