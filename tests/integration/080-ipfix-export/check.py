#!/usr/bin/python3
"""output.ipfix against a collector nobody here wrote (nfcapd, read back with
nfdump) and against an IPFIX parser written here (RFC 7011 framing, templates,
sequence numbers), over UDP, TCP and files. See README.md."""
import csv, ipaddress, os, re, signal, socket, struct, subprocess, sys, threading, time

BIN = os.environ["FLOWLINE_BIN"]
SRC = os.environ.get("FLOWLINE_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
FAILS = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        FAILS.append(what)
    return ok


def pipeline(tmp, name, pcap, sink, csv_out):
    """pcap -> flowmeter -> output.ipfix (sink: its `with` lines) and CSV."""
    y = f"""version: 1
stages:
  - id: capture
    use: input.pcap
    with: {{ path: "{pcap}" }}
  - id: flows
    use: aggregate.flowmeter
    from: capture
    with: {{ idle_timeout: 60s, active_timeout: 300s }}
  - id: ipfix
    use: output.ipfix
    from: flows
    with: {{ observation_domain: 7, {sink} }}
  - id: csv
    use: output.csv
    from: flows
    with: {{ path: "{csv_out}", overwrite: true }}
"""
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(y)
    return path


def run(yaml, env=None, timeout=120):
    p = subprocess.run([BIN, "run", "-v", "--no-progress", yaml], env=dict(os.environ, **(env or {})),
                       capture_output=True, text=True, timeout=timeout)
    c = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
         for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", p.stderr, re.M)}
    return p.returncode, p.stderr, c


def A(x):
    """An address as a sortable (version, value) pair."""
    a = ipaddress.ip_address(x)
    return (a.version, int(a))


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ts_ns(text):
    """RFC 3339 with 9 fraction digits (flowline's CSV) -> ns since the epoch."""
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d{9})Z$", text)
    import calendar
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    return secs * 10**9 + int(m.group(7))


def csv_flows(path):
    rows = list(csv.DictReader(open(path)))
    return [(A(r["src_addr"]), A(r["dst_addr"]),
             int(r["src_port"]), int(r["dst_port"]), int(r["proto"]), int(r["packets"]),
             int(r["bytes"]), ts_ns(r["flow_start"])) for r in rows]


# ---- an IPFIX reader written from RFC 7011, independent of flowline --------
class Stream:
    """Messages of one transport session or file: framing, templates before
    use, sequence numbers counting data records, per observation domain."""

    def __init__(self, name):
        self.name, self.templates, self.records, self.msgs = name, {}, [], 0
        self.next_seq, self.errors, self.template_ids = {}, [], []

    def err(self, what):
        self.errors.append(f"{self.name} message {self.msgs}: {what}")

    def message(self, m, t0=None, t1=None):
        if len(m) < 16:
            return self.err("shorter than a header")
        ver, length, export, seq, dom = struct.unpack("!HHIII", m[:16])
        if ver != 10 or length != len(m):
            return self.err(f"version {ver} length {length} for {len(m)} bytes")
        if t0 is not None and not t0 - 2 <= export <= t1 + 2:
            self.err(f"export time {export} outside the run {t0}..{t1}")
        expect = self.next_seq.get(dom, seq if self.msgs == 0 else 0)
        if seq != expect:
            self.err(f"sequence {seq}, expected {expect}")
        n_data = 0
        off = 16
        while off < len(m):
            if len(m) - off < 4:
                return self.err("set header truncated")
            sid, slen = struct.unpack("!HH", m[off:off + 4])
            if slen < 4 or off + slen > len(m):
                return self.err(f"set {sid} length {slen} past the message")
            body = m[off + 4:off + slen]
            if sid == 2:
                self.template_set(body)
            elif sid >= 256:
                n_data += self.data_set(sid, body)
            else:
                self.err(f"unexpected set id {sid}")
            off += slen
        self.next_seq[dom] = (seq + n_data) & 0xffffffff
        self.msgs += 1

    def template_set(self, b):
        off = 0
        while off < len(b):   # no padding: every byte belongs to a record
            if len(b) - off < 4:
                return self.err("template record truncated (padding?)")
            tid, n = struct.unpack("!HH", b[off:off + 4])
            off += 4
            fields = []
            for _ in range(n):
                eid, flen = struct.unpack("!HH", b[off:off + 4])
                off += 4
                pen = 0
                if eid & 0x8000:
                    pen, = struct.unpack("!I", b[off:off + 4])
                    off += 4
                    eid &= 0x7fff
                fields.append((pen, eid, flen))
            if tid < 256 or n == 0:
                self.err(f"template id {tid} with {n} fields")
            self.templates[tid] = fields
            self.template_ids.append(tid)

    def data_set(self, sid, b):
        if sid not in self.templates:
            self.err(f"data set {sid} before its template")
            return 0
        fields, off, n = self.templates[sid], 0, 0
        while off < len(b):
            rec = {}
            for pen, eid, flen in fields:
                if flen == 0xffff:
                    flen = b[off]
                    off += 1
                    if flen == 255:
                        flen, = struct.unpack("!H", b[off:off + 2])
                        off += 2
                if off + flen > len(b):
                    self.err("record runs past its set")
                    return n
                rec[(pen, eid)] = b[off:off + flen]
                off += flen
            rec["template"] = sid
            self.records.append(rec)
            n += 1
        return n

    def flows(self):
        """Records as the CSV tuples: addresses by family, flowStartNanoseconds
        (NTP format) or flowStartMilliseconds back to ns."""
        out = []
        for r in self.records:
            u = lambda e: int.from_bytes(r[(0, e)], "big")
            sa = r.get((0, 8)) or r.get((0, 27))
            da = r.get((0, 12)) or r.get((0, 28))
            if (0, 156) in r:
                sec, frac = struct.unpack("!II", r[(0, 156)])
                start = (sec - 2208988800) * 10**9 + ((frac * 10**9) >> 32)   # read rounding down
            else:
                start = u(152) * 10**6
            out.append((A(sa), A(da), u(7), u(11), u(4),
                        u(2), u(1), start))
        return out


def read_messages(data, stream, t0=None, t1=None):
    off = 0
    while off < len(data):
        if len(data) - off < 4:
            stream.err("trailing bytes")
            break
        length, = struct.unpack("!H", data[off + 2:off + 4])
        if length < 16 or off + length > len(data):
            stream.err(f"message length {length} at offset {off} past the end")
            break
        stream.message(data[off:off + length], t0, t1)
        off += length


def same_flows(got, want, what, ms=False):
    if ms:
        want = [w[:7] + (w[7] // 10**6 * 10**6,) for w in want]
    g, w = sorted(got), sorted(want)
    check(g == w, f"{what}: {len(g)} records equal the {len(w)} CSV flows "
                  f"(addresses, ports, proto, packets, bytes, start)")
    if g != w:
        print("  only in IPFIX:", [x for x in g if x not in w][:3])
        print("  only in CSV:  ", [x for x in w if x not in g][:3])


# ---- the tests --------------------------------------------------------------
def start_nfcapd(d, port):
    """nfcapd on 127.0.0.1:port writing into d, with a 4 MiB socket buffer:
    its default (rmem_default, 208 KiB here) overflows when a flow meter
    flushes a thousand flows at the end of a file (the kernel drops the
    tail of the burst, which no sequence number can reveal afterwards)."""
    nf = subprocess.Popen(["nfcapd", "-w", d, "-p", str(port), "-b", "127.0.0.1", "-t", "3600",
                           "-B", "4194304"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return nf


def stop_nfcapd(nf):
    """SIGTERM by its pid: nfcapd writes its file and exits."""
    if nf.poll() is None:
        nf.send_signal(signal.SIGTERM)
    try:
        nf.wait(20)
    except subprocess.TimeoutExpired:
        nf.kill()
        nf.wait()


def nfcapd_run(tmp, name, pcap, make_yaml):
    """Start nfcapd on a free port, run the pipeline make_yaml(target) makes,
    stop nfcapd (SIGTERM: it writes its file) and return nfdump's flows."""
    port = free_port(socket.SOCK_DGRAM)
    d = os.path.join(tmp, "nf-" + name)
    os.mkdir(d)
    nf = start_nfcapd(d, port)
    try:
        check(nf.poll() is None, f"{name}: nfcapd listens on udp port {port}")
        rc, err, c = run(make_yaml(f"udp://127.0.0.1:{port}"))
        time.sleep(0.3)
    finally:
        stop_nfcapd(nf)
    check(rc == 0, f"{name}: pipeline exit {rc}" + ("" if rc == 0 else "\n" + err[-2000:]))
    out = subprocess.run(["nfdump", "-R", d, "-q", "-N", "-6", "-o", "fmt:%sa|%da|%pr|%pkt|%byt"],
                         capture_output=True, text=True).stdout
    flows = []
    for line in out.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) == 5:
            flows.append((A(f[0]), A(f[1]), int(f[2]),
                          int(f[3]), int(f[4])))
    return flows, c


def test_nfcapd(tmp, name, pcap):
    out = os.path.join(tmp, name + ".csv")
    flows, c = nfcapd_run(tmp, name, pcap,
                          lambda t: pipeline(tmp, name, pcap, f'target: "{t}", time_elements: milliseconds', out))
    want = csv_flows(out)
    check(c.get("ipfix", {}).get("records_out") == len(want) and not c["ipfix"].get("send_errors"),
          f"{name}: records_out {c.get('ipfix', {}).get('records_out')} = {len(want)} CSV rows")
    tot = lambda rows: (len(rows), sum(r[3] for r in rows), sum(r[4] for r in rows))
    w = [(r[0], r[1], r[4], r[5], r[6]) for r in want]
    check(tot(flows) == tot(w), f"{name}: nfdump flows/packets/bytes {tot(flows)} = CSV {tot(w)}")
    check(sorted(flows) == sorted(w), f"{name}: nfdump's flows equal the CSV's (addresses, proto, packets, bytes)")
    return want


def test_example(tmp, pcap, want):
    """conf/examples/pcap-to-ipfix.yaml, as a user runs it, into nfcapd."""
    ex = os.path.join(SRC, "conf/examples/pcap-to-ipfix.yaml")
    port = free_port(socket.SOCK_DGRAM)
    d = os.path.join(tmp, "nf-example")
    os.mkdir(d)
    nf = start_nfcapd(d, port)
    try:
        rc, err, c = run(ex, {"PCAP": pcap, "TARGET": f"udp://127.0.0.1:{port}"})
        time.sleep(0.3)
    finally:
        stop_nfcapd(nf)
    info = subprocess.run(["nfdump", "-R", d, "-I"], capture_output=True, text=True).stdout
    got = tuple(int(re.search(rf"^{k}: (\d+)$", info, re.M).group(1)) for k in ("Flows", "Packets", "Bytes"))
    exp = (len(want), sum(r[5] for r in want), sum(r[6] for r in want))
    check(rc == 0 and got == exp, f"example pcap-to-ipfix.yaml: exit {rc}, nfdump -I {got} = CSV {exp}")
    first = subprocess.run(["nfdump", "-R", d, "-q", "-N", "-o", "fmt:%ts"], capture_output=True, text=True).stdout
    check(first and not first.startswith("1970"), "example: nfdump shows the flows' real start times (milliseconds elements)")


def test_tcp(tmp, pcap):
    port = free_port(socket.SOCK_STREAM)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(60)
    got = bytearray()

    def serve():
        conn, _ = srv.accept()
        while True:
            b = conn.recv(65536)
            if not b:
                break
            got.extend(b)
        conn.close()

    th = threading.Thread(target=serve)
    th.start()
    out = os.path.join(tmp, "tcp.csv")
    t0 = int(time.time())
    rc, err, c = run(pipeline(tmp, "tcp", pcap, f'target: "tcp://127.0.0.1:{port}"', out))
    t1 = int(time.time())
    th.join(60)
    srv.close()
    s = Stream("tcp")
    read_messages(bytes(got), s, t0, t1)
    want = csv_flows(out)
    check(rc == 0 and not s.errors, f"tcp: exit {rc}, {s.msgs} messages framed, sequenced, templates first"
          + "".join("\n  " + e for e in s.errors[:5]))
    check(c["ipfix"].get("bytes") == len(got) and c["ipfix"].get("messages") == s.msgs,
          f"tcp: counters bytes={c['ipfix'].get('bytes')} messages={c['ipfix'].get('messages')} match {len(got)} bytes received")
    check(len(s.template_ids) == len(set(s.template_ids)), "tcp: each template sent once per connection")
    same_flows(s.flows(), want, "tcp")

    # Nobody listening: a clear error, non-zero exit.
    port = free_port(socket.SOCK_STREAM)
    rc, err, c = run(pipeline(tmp, "tcpfail", pcap, f'target: "tcp://127.0.0.1:{port}"', out))
    check(rc != 0 and f"cannot connect to tcp://127.0.0.1:{port}: Connection refused" in err,
          f"tcp: connection refused is a clear error (exit {rc}): {err.strip().splitlines()[:1]}")


def test_udp_absent(tmp, pcap):
    port = free_port(socket.SOCK_DGRAM)
    out = os.path.join(tmp, "absent.csv")
    rc, err, c = run(pipeline(tmp, "absent", pcap, f'target: "udp://127.0.0.1:{port}", mtu: 512', out))
    ip = c.get("ipfix", {})
    check(rc == 0 and ip.get("collector_refused", 0) > 0 and "refuses datagrams" in err,
          f"udp without a collector: exit {rc}, collector_refused={ip.get('collector_refused')}, run goes on")
    # message_rate paces the datagrams: n messages take at least (n - 1) / rate.
    t = time.monotonic()
    rc, err, c = run(pipeline(tmp, "paced", pcap, f'target: "udp://127.0.0.1:{port}", message_rate: 200', out))
    took, n = time.monotonic() - t, c.get("ipfix", {}).get("messages", 0)
    check(rc == 0 and n > 10 and took >= (n - 1) / 200, f"message_rate: 200: {n} messages took {took:.2f} s")


def test_file(tmp, name, pcap, both_families):
    path = os.path.join(tmp, name + ".ipfix")
    out = os.path.join(tmp, name + ".csv")
    yaml = pipeline(tmp, name, pcap, f'path: "{path}"', out)
    t0 = int(time.time())
    rc, err, c = run(yaml)
    t1 = int(time.time())
    data = open(path, "rb").read()
    s = Stream(name)
    read_messages(data, s, t0, t1)
    want = csv_flows(out)
    check(rc == 0 and not s.errors and s.msgs > 0,
          f"{name}: exit {rc}, {s.msgs} messages: headers, lengths, sequence numbers, templates before data"
          + "".join("\n  " + e for e in s.errors[:5]))
    check(min(s.template_ids) == 256 and len(s.template_ids) == len(set(s.template_ids)),
          f"{name}: template ids from 256, each once per file: {s.template_ids}")
    same_flows(s.flows(), want, name)
    if both_families:
        fam = {}
        for r in s.records:
            fam.setdefault(r["template"], set()).add(((0, 8) in r, (0, 27) in r))
        v4 = sum(1 for r in s.records if (0, 8) in r and (0, 12) in r)
        v6 = sum(1 for r in s.records if (0, 27) in r and (0, 28) in r)
        check(v4 > 0 and v6 > 0 and all(len(v) == 1 for v in fam.values()),
              f"{name}: IPv4 rows under sourceIPv4Address ({v4}), IPv6 under sourceIPv6Address ({v6}), "
              f"one template per family combination ({len(fam)})")
        check(v4 == sum(1 for w in want if w[0][0] == 4) and v6 == sum(1 for w in want if w[0][0] == 6),
              f"{name}: every row under its own family's elements")
        own = [f for f in s.templates[256] if f[0] == 61678]
        check(len(own) > 0, f"{name}: flowline's own fields under FL_PEN 61678 ({len(own)} of them)")

    test_round_trip(tmp, name)

    # Never clobbered unasked; overwrite replaces; append adds a new stream.
    rc, err, _ = run(yaml)
    check(rc != 0 and "exists; flowline does not replace a file unasked" in err
          and open(path, "rb").read() == data, f"{name}: an existing file is refused (exit {rc}) and left as it was")
    rc, err, _ = run(pipeline(tmp, name + "-ow", pcap, f'path: "{path}", overwrite: true', out))
    check(rc == 0 and len(open(path, "rb").read()) == len(data), f"{name}: overwrite: true replaces it")
    rc, err, _ = run(pipeline(tmp, name + "-ap", pcap, f'path: "{path}", append: true', out))
    both = open(path, "rb").read()
    check(rc == 0 and len(both) == 2 * len(data) and both[len(data) + 8:len(data) + 12] == b"\0\0\0\0"
          and both[len(data) + 16:len(data) + 18] == b"\0\x02",
          f"{name}: append: true adds a new stream (sequence 0, templates first)")


def test_round_trip(tmp, name):
    """The file test_file wrote, read back by flowline's own input.ipfix:
    every column of every row as the CSV had it (flow_start/flow_end to
    the nanosecond); duration goes out in microseconds
    (flowDurationMicroseconds, the registry's element), so it comes back
    cut to the microsecond."""
    out = os.path.join(tmp, name + ".csv")
    back = os.path.join(tmp, name + "-back.csv")
    header = next(csv.reader(open(out)))
    y = os.path.join(tmp, name + "-back.yaml")
    with open(y, "w") as f:
        f.write(f"""version: 1
stages:
  - id: coll
    use: input.ipfix
    with: {{ path: "{os.path.join(tmp, name + '.ipfix')}" }}
  - id: csv
    use: output.csv
    from: coll
    with: {{ path: "{back}", fields: [{", ".join(header)}] }}
""")
    rc, err, _ = run(y)
    a, b = list(csv.reader(open(out))), list(csv.reader(open(back))) if rc == 0 else []
    di = header.index("duration")
    # seconds with up to 9 decimals, cut to 6 (floor: durations are positive)
    us = lambda v: v if "." not in v else v.split(".")[0] + "." + (v.split(".")[1] + "000000")[:6]
    norm = lambda rows: sorted(r[:di] + [us(r[di])] + r[di + 1:] for r in rows[1:])
    check(rc == 0 and len(a) > 1 and norm(a) == norm(b),
          f"{name}: read back by input.ipfix, {len(b) - 1} rows equal the CSV's in every column "
          f"(duration to the microsecond)")


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    real = os.path.join(data, "pcap", "ndpi_1kxun.pcap")
    mixed = os.path.join(tmp, "mixed.pcap")
    subprocess.run([BIN, "gen", "--path", mixed, "--packets", "30000", "--ipv6", "0.3", "--seed", "7"],
                   check=True, capture_output=True)
    want = test_nfcapd(tmp, "nfcapd-real", real)
    test_nfcapd(tmp, "nfcapd-mixed", mixed)
    test_example(tmp, real, want)
    test_tcp(tmp, mixed)
    test_udp_absent(tmp, real)
    test_file(tmp, "file-mixed", mixed, True)
    test_file(tmp, "file-real", real, False)
    print("FAILED: %d" % len(FAILS) if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
