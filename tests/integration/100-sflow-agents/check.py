#!/usr/bin/python3
"""input.sflow live.

1. The sFlow datagrams of every shared sFlow capture are
sent over UDP to the collector of conf/examples/sflow-to-csv.yaml (run as its
comment says, listening on 127.0.0.1), which must write one CSV row per flow
sample and one per counter sample. The truth is tshark's sFlow dissector on
the same captures: the number of flow and counter samples, and the sum of the
interface input octet counters.

2. An agent nobody here wrote: pmacctd's sfprobe plugin reads a capture and
samples every packet (rate 1) to the same collector. Every row flowline
writes must be a packet of the capture as input.pcap reads it (proto, ip_len,
addresses, ports; as a multiset), nothing may be lost by sequence numbers,
and at least 90% of the capture's IP packets must arrive. Not equality:
pmacctd 1.7.7 does not sample the last packets of a savefile when it exits
(seen: 0 to 8 of 109, 6 of 1723; its sequence numbers have no gap, so it
never sent them). Skipped when pmacctd is not installed (Debian's pmacct).
3. workers: 2: two instances share the port (SO_REUSEPORT); datagrams from 8
source ports are spread over them and together they write every sample.
Every process started here is stopped by its pid."""
import collections, csv, os, re, shutil, signal, socket, struct, subprocess, sys, time

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


class Collector:
    """The example collector on a free port, stopped by SIGTERM (pid)."""

    def __init__(self, tmp, tag):
        self.port = free_port()
        self.out, self.ctrs, self.err = (os.path.join(tmp, f"{tag}-{n}")
                                         for n in ("samples.csv", "counters.csv", "err"))
        with open(self.err, "w") as err:
            self.p = subprocess.Popen([BIN, "run", "-v", "--no-progress", EXAMPLE], stderr=err,
                                      env=dict(os.environ, LISTEN=f"udp://127.0.0.1:{self.port}",
                                               OUT=self.out, COUNTERS=self.ctrs))
        if not wait_for(lambda: "collecting on" in open(self.err).read(), 10):
            self.stop()
            raise RuntimeError("flowline did not start:\n" + open(self.err).read())

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return -1


KEY = ["proto", "ip_len", "src_addr", "dst_addr", "src_port", "dst_port"]


def packets(rows_):
    return collections.Counter(tuple(r[k] for k in KEY) for r in rows_)


def pmacct(data, tmp, cap):
    """pmacctd (sfprobe, rate 1) reads cap and sends to the collector."""
    tag = os.path.basename(cap)
    col = Collector(tmp, tag)
    conf = os.path.join(tmp, tag + ".pmacct.conf")
    with open(conf, "w") as f:
        f.write(f"daemonize: false\npcap_savefile: {os.path.join(data, cap)}\nplugins: sfprobe\n"
                f"sfprobe_receiver: 127.0.0.1:{col.port}\nsfprobe_agentip: 127.0.0.1\n")
    try:
        pm = subprocess.Popen(["pmacctd", "-f", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            pm.wait(60)
        except subprocess.TimeoutExpired:
            pm.kill()
            pm.wait()
        time.sleep(0.5)
    finally:
        rc = col.stop()
    got = packets(rows(col.out))
    # the same capture read by input.pcap, the same columns
    yml, ref = os.path.join(tmp, tag + ".pcap.yaml"), os.path.join(tmp, tag + ".pcap.csv")
    keys = ", ".join(KEY)
    with open(yml, "w") as f:
        f.write(f"version: 1\nstages:\n  - id: cap\n    use: input.pcap\n    with: {{ path: "
                f"\"{os.path.join(data, cap)}\" }}\n  - id: out\n    use: output.csv\n    from: cap\n"
                f"    with: {{ path: \"{ref}\", fields: [{keys}] }}\n")
    subprocess.run([BIN, "run", "-q", yml], check=True)
    want = packets(rows(ref))
    log = open(col.err).read()
    n_got, n_want, extra = sum(got.values()), sum(want.values()), got - want
    print(f"pmacctd sfprobe <- {cap}: flowline {n_got} packet rows, input.pcap {n_want}, "
          f"rows not in the capture {sum(extra.values())}; exit {rc}")
    print("\n".join(l for l in log.splitlines() if "input.sflow" in l))
    return (rc == 0 and not extra and n_want > 0 and n_got * 10 >= n_want * 9 and
            "_lost=" not in log)


def workers(tmp, dgrams, flows, ctrs):
    port = free_port()
    out, cout, err_path = (os.path.join(tmp, n) for n in ("w.csv", "wc.csv", "w.err"))
    y = os.path.join(tmp, "workers.yaml")
    open(y, "w").write(f'version: 1\nstages:\n  - {{id: s, use: input.sflow, workers: 2, '
                       f'with: {{listen: "udp://127.0.0.1:{port}"}}}}\n'
                       f'  - {{id: o, use: output.csv, from: s, with: {{path: "{out}"}}}}\n'
                       f'  - {{id: c, use: output.csv, from: s.counters, with: {{path: "{cout}"}}}}\n')
    with open(err_path, "w") as err:
        fl = subprocess.Popen([BIN, "run", "-v", "--no-progress", y], stderr=err)
    try:
        wait_for(lambda: open(err_path).read().count("collecting on") == 2, 10)
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i, d in enumerate(dgrams):
                s.sendto(d, ("127.0.0.1", port))
                if i % 16 == 15:
                    time.sleep(0.002)
            s.close()
        time.sleep(1)
    finally:
        fl.send_signal(signal.SIGTERM)
        try:
            rc = fl.wait(30)
        except subprocess.TimeoutExpired:
            fl.kill()
            rc = -1
    text = open(err_path).read()
    per = [int(v) for v in re.findall(r"counter_rows\[\d\]=(\d+)", text)]
    nf, nc = len(rows(out)), len(rows(cout))
    ok = rc == 0 and nf == 8 * flows and nc == 8 * ctrs and len(per) == 2 and all(per)
    print(f"workers: 2: {nf} flow rows of {8 * flows}, {nc} counter rows of {8 * ctrs}, "
          f"counter rows per instance {per}: {'ok' if ok else 'FAIL'}")
    if not ok:
        print(text[-2000:])
    return ok


def other_examples(tmp, dgrams, want_flows, want_ctrs, want_scaled):
    """conf/examples/sflow-flows.yaml (sFlow -> flowmeter -> CSV) and
    sflow-counters-to-csv.yaml, each fed the shared datagrams once: the
    flows hold every sampled packet (sampled_packets), each standing for
    its sampling rate's worth (packets: the sum of the samples' rates), the
    counter file a row per counter sample, rates after an interface's
    second sample."""
    src = os.path.dirname(EXAMPLE)
    got = {}
    for name in ("sflow-flows.yaml", "sflow-counters-to-csv.yaml"):
        port = free_port()
        out, err_path = os.path.join(tmp, name + ".csv"), os.path.join(tmp, name + ".err")
        with open(err_path, "w") as err:
            fl = subprocess.Popen([BIN, "run", "-v", "--no-progress", os.path.join(src, name)],
                                  stderr=err, env=dict(os.environ, OUT=out,
                                                       LISTEN=f"udp://127.0.0.1:{port}"))
        try:
            wait_for(lambda: "collecting on" in open(err_path).read(), 10)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i, d in enumerate(dgrams):
                s.sendto(d, ("127.0.0.1", port))
                if i % 16 == 15:
                    time.sleep(0.002)
            s.close()
            time.sleep(1)
        finally:
            fl.send_signal(signal.SIGTERM)
            try:
                rc = fl.wait(20)
            except subprocess.TimeoutExpired:
                fl.kill()
                rc = -1
        got[name] = (rc, rows(out))
    rc_f, flows = got["sflow-flows.yaml"]
    rc_c, ctrs = got["sflow-counters-to-csv.yaml"]
    sampled = sum(int(r["sampled_packets"]) for r in flows)
    pkts = sum(int(r["packets"]) for r in flows)
    consistent = all(int(r["packets"]) == int(r["sampled_packets"]) * int(r["sampling_rate"])
                     and int(r["bytes"]) == int(r["sampled_bytes"]) * int(r["sampling_rate"])
                     for r in flows)
    rates = [r for r in ctrs if r["if_in_octets_rate"]]
    ok = (rc_f == 0 and rc_c == 0 and len(flows) > 0 and sampled == want_flows and consistent
          and pkts == want_scaled and len(ctrs) == want_ctrs and len(rates) > 0)
    print(f"sflow-flows.yaml: {len(flows)} flows holding {sampled} sampled packets (flow "
          f"samples: {want_flows}) scaled to {pkts} (the samples' rates sum to {want_scaled}); "
          f"sflow-counters-to-csv.yaml: {len(ctrs)} rows (counter samples: {want_ctrs}), "
          f"{len(rates)} with rates: {'ok' if ok else 'FAIL'}")
    return ok


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
    ok &= workers(tmp, dgrams, want_flows, want_ctrs)
    ok &= other_examples(tmp, dgrams, want_flows, want_ctrs,
                         sum(int(r["sampling_rate"]) for r in got_flows))
    if shutil.which("pmacctd"):
        for cap in ("pcap/ndpi_443-curl.pcap", "pcap/ndpi_android.pcap", "pcap/ndpi_1kxun.pcap"):
            good = pmacct(data, tmp, cap)
            if not good:
                print("  FAIL")
            ok &= good
    else:
        print("pmacctd not found (Debian package pmacct): the sfprobe agent is skipped")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
