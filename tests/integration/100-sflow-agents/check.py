#!/usr/bin/python3
"""input.sflow live: the sFlow datagrams of every shared sFlow capture are
sent over UDP to the collector of conf/examples/sflow-to-csv.yaml (run as its
comment says, listening on 127.0.0.1), which must write one CSV row per flow
sample and one per counter sample. The truth is tshark's sFlow dissector on
the same captures: the number of flow and counter samples, and the sum of the
interface input octet counters. Every process started here is stopped by its
pid."""
import csv, os, signal, socket, struct, subprocess, sys, time

BIN = os.environ["FLOWLINE_BIN"]
EXAMPLE = os.path.join(os.environ.get("FLOWLINE_SRC", os.path.join(os.path.dirname(__file__), "../../..")),
                       "conf/examples/sflow-to-csv.yaml")


def payloads(path):
    """UDP payloads of an Ethernet pcap that look like sFlow (version 2..5)."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off, out = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        f = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        et, q = struct.unpack("!H", f[12:14])[0], 14
        if et == 0x0800 and f[q + 9] == 17:
            q += (f[q] & 15) * 4
        elif et == 0x86dd and f[q + 6] == 17:
            q += 40
        else:
            continue
        ulen = struct.unpack("!H", f[q + 4:q + 6])[0]
        pl = f[q + 8:q + ulen]
        if len(pl) >= 4 and pl[:3] == b"\0\0\0" and 2 <= pl[3] <= 5:
            out.append(pl)
    return out


def tshark(path, field):
    out = subprocess.run(["tshark", "-r", path, "-d", "udp.port==6343,sflow", "-Y", "sflow",
                          "-T", "fields", "-e", field], capture_output=True, text=True).stdout
    return [int(v) for line in out.split() for v in line.split(",") if v]


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    caps = sorted(os.path.join(data, "sflow", f) for f in os.listdir(os.path.join(data, "sflow")))
    dgrams = [p for c in caps for p in payloads(c)]
    types = [t for c in caps for t in tshark(c, "sflow_245.sampletype")]
    want_flows = sum(t in (1, 3) for t in types)
    want_ctrs = sum(t in (2, 4) for t in types)
    want_octets = sum(sum(tshark(c, "sflow_245.ifinoct")) for c in caps)
    port = free_port()
    out, ctrs, err_path = (os.path.join(tmp, n) for n in ("samples.csv", "counters.csv", "err"))
    ok = True
    with open(err_path, "w") as err:
        fl = subprocess.Popen([BIN, "run", "-v", "--no-progress", EXAMPLE], stderr=err,
                              env=dict(os.environ, LISTEN=f"udp://127.0.0.1:{port}", OUT=out,
                                       COUNTERS=ctrs))
    try:
        if not wait_for(lambda: "collecting on" in open(err_path).read(), 10):
            raise RuntimeError("flowline did not start:\n" + open(err_path).read())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, d in enumerate(dgrams):
            s.sendto(d, ("127.0.0.1", port))
            if i % 16 == 15:
                time.sleep(0.002)
        s.close()
        wait_for(lambda: len(rows(out)) >= want_flows and len(rows(ctrs)) >= want_ctrs, 10)
    finally:
        fl.send_signal(signal.SIGTERM)
        try:
            rc = fl.wait(20)
        except subprocess.TimeoutExpired:
            fl.kill()
            rc = -1
    got_flows, got_ctrs = rows(out), rows(ctrs)
    got_octets = sum(int(r["if_in_octets"]) for r in got_ctrs if r["if_in_octets"])
    log = open(err_path).read()
    print(f"{len(dgrams)} datagrams sent; flow rows {len(got_flows)} (tshark: {want_flows} flow "
          f"samples), counter rows {len(got_ctrs)} (tshark: {want_ctrs}), if_in_octets sum "
          f"{got_octets} (tshark {want_octets}); exit {rc}")
    counters = [l for l in log.splitlines() if "input.sflow" in l]
    print("\n".join(counters))
    ok &= rc == 0 and want_flows > 0 and want_ctrs > 0
    ok &= len(got_flows) == want_flows and len(got_ctrs) == want_ctrs
    ok &= got_octets == want_octets
    ok &= any(f"sflow_datagrams={len(dgrams) - 1}" in l for l in counters)  # the segv one: drop_short
    ok &= any("drop_short=1" in l for l in counters)
    ok &= all(r["agent"] and r["sampling_rate"] for r in got_flows)
    rates = [r for r in got_ctrs if r["if_in_octets_rate"]]
    ok &= len(rates) > 0 and all(float(r["if_in_octets_rate"]) >= 0 for r in rates)
    if not ok:
        print(log[-3000:])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
