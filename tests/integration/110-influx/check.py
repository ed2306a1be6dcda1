#!/usr/bin/python3
"""output.influx against a real influxd 1.6 (started here, stopped by pid).

1. flows: real captures -> flowmeter -> output.influx and output.csv (two
   outputs of one stage): count(*) and sums in InfluxDB equal the CSV, and
   every point equals its CSV row (5-tuple tags + flow_end time).
2. escaping: spaces, commas, equals signs, quotes and backslashes in the
   measurement, a tag and a string field read back exactly.
3. a 400 (field type conflict) is counted as rejected, not retried, and the
   run ends promptly.
4. wall-clock flush: packets trickling in through a FIFO (record time
   stands still) reach InfluxDB within flush_interval while the run goes on.
5. influxd SIGKILLed mid-run and restarted on the same dirs: every record
   is in the database (retries hold the pipeline back meanwhile).
6. influxd down for a whole run with spool_dir: everything is spooled; the
   next run (influxd back) replays the spool, and the database holds it all.
7. conf/examples/flows-to-influx.yaml runs as documented.
8. udp://: lines as datagrams to influxd's UDP listener, all of them read.
"""
import csv, os, re, signal, subprocess, sys, threading, time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from influxd import Influxd  # noqa: E402

FLOWLINE = os.environ.get("FLOWLINE_BIN", "flowline")
FAILS = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILS.append(what)


def counters(err):
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", err, re.M)}


def run(yaml_text, tmp, name, env=None, timeout=300):
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(yaml_text)
    t0 = time.time()
    p = subprocess.run([FLOWLINE, "run", "-v", "--no-progress", path], capture_output=True,
                       text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    return p.returncode, p.stderr, counters(p.stderr), time.time() - t0


def one(ix, q, db):
    s = ix.query(q, db=db)
    return s[0]["values"][0] if s else None


def test_flows(ix, data, tmp):
    ix.query("CREATE DATABASE flows")
    caps = [os.path.join(data, "pcap", f) for f in
            ("ndpi_1kxun.pcap", "ndpi_alexa-app.pcap", "ndpi_netflix.pcap", "ndpi_opera-vpn.pcap")]
    out = os.path.join(tmp, "flows.csv")
    y = f"""version: 1
stages:
  - id: capture
    use: input.pcap
    with: {{ path: [{", ".join(caps)}] }}
  - id: flows
    use: aggregate.flowmeter
    from: capture
  - id: influx
    use: output.influx
    from: flows
    with:
      url: {ix.url}
      db: flows
      tags: [src_addr, dst_addr, src_port, dst_port, proto]
      batch_size: 500
  - id: csv
    use: output.csv
    from: flows
    with: {{ path: {out}, time_format: epoch_ns }}
"""
    rc, err, c, _ = run(y, tmp, "flows")
    check(rc == 0, f"flows: run exits 0 (rc {rc})" + ("" if rc == 0 else "\n" + err[-2000:]))
    rows = list(csv.DictReader(open(out)))
    keys = {}
    for r in rows:
        k = (r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], r["proto"], r["flow_end"])
        keys[k] = r
    check(len(keys) == len(rows), f"flows: {len(rows)} CSV rows, unique by 5-tuple + flow_end")
    ic = c.get("influx", {})
    check(ic.get("records_sent") == len(rows) and ic.get("payloads_sent", 0) >= len(rows) // 500,
          f"flows: records_sent {ic.get('records_sent')} == {len(rows)} rows")
    v = one(ix, "SELECT count(bytes), sum(bytes), sum(packets), sum(payload_bytes) FROM flows", "flows")
    want = [len(rows), sum(int(r["bytes"]) for r in rows), sum(int(r["packets"]) for r in rows),
            sum(int(r["payload_bytes"]) for r in rows)]
    check(v and v[1:] == want, f"flows: count/sum(bytes)/sum(packets)/sum(payload_bytes) "
          f"{v[1:] if v else None} == CSV {want}")
    pts = ix.query("SELECT * FROM flows", db="flows")[0]
    cols = pts["columns"]
    same = 0
    bad = None
    for vals in pts["values"]:
        p = dict(zip(cols, vals))
        k = (p["src_addr"], p["dst_addr"], p["src_port"], p["dst_port"], p["proto"], str(p["time"]))
        r = keys.get(k)
        ok = r is not None and all(
            str(p[f]) == r[f] for f in ("bytes", "packets", "tcp_flags", "end_reason")) \
            and float(r["ps_avg"]) == p["ps_avg"] \
            and p["duration"] == int(Decimal(r["duration"]) * 1000000000)
        same += ok
        if not ok and bad is None:
            bad = (p, r)
    check(same == len(rows), f"flows: {same} of {len(rows)} points equal their CSV row"
          + ("" if bad is None else f"\n  first mismatch: {bad}"))
    return len(rows)


def test_escaping(ix, tmp):
    ix.query("CREATE DATABASE esc")
    y = r"""version: 1
stages:
  - id: traffic
    use: input.gen
    with: { packets: 2000, seed: 3 }
  - id: flows
    use: aggregate.flowmeter
    from: traffic
  - id: strings
    use: transform.expr
    from: flows
    with:
      compute:
        label: '"a b,c=d\"e\\f g"'
        note: '"x, y=z \"quoted\" back\\slash"'
      select: [flow_end, label, note, bytes, src_addr, dst_addr, src_port, dst_port, proto]
  - id: influx
    use: output.influx
    from: strings
    with:
      url: URL
      db: esc
      measurement: "m e,a=s"
      tags: [label, src_addr, dst_addr, src_port, dst_port, proto]
"""
    rc, err, c, _ = run(y.replace("URL", ix.url), tmp, "esc")
    check(rc == 0, f"escaping: run exits 0 (rc {rc})" + ("" if rc == 0 else "\n" + err[-2000:]))
    n = c.get("influx", {}).get("records_sent", 0)
    meas = ix.query("SHOW MEASUREMENTS", db="esc")
    names = [v[0] for v in meas[0]["values"]] if meas else []
    check(names == ["m e,a=s"], f"escaping: measurement read back {names}")
    tv = ix.query('SHOW TAG VALUES FROM "m e,a=s" WITH KEY = "label"', db="esc")
    tags = [v[1] for v in tv[0]["values"]] if tv else []
    check(tags == ['a b,c=d"e\\f g'], f"escaping: tag value read back {tags}")
    s = ix.query('SELECT count(note) FROM "m e,a=s"', db="esc")
    cnt = s[0]["values"][0][1] if s else 0
    s = ix.query('SELECT DISTINCT(note) FROM "m e,a=s"', db="esc")
    notes = [v[1] for v in s[0]["values"]] if s else []
    check(n > 0 and cnt == n and notes == ['x, y=z "quoted" back\\slash'],
          f"escaping: {cnt} of {n} string fields read back as {notes}")


def test_400(ix, tmp):
    ix.query("CREATE DATABASE conflict")
    # bytes is a string here; flowline writes it as an integer: InfluxDB
    # answers 400 "field type conflict ... dropped=N" for every line.
    # In the shard of input.gen's time (2026-01-01): a conflict is per shard.
    st, body = ix.write("conflict", 'flows bytes="text" 1767225600000000000')
    check(st == 204, f"400: seeding a string field ({st} {body})")
    y = f"""version: 1
stages:
  - id: traffic
    use: input.gen
    with: {{ packets: 20000, seed: 5 }}
  - id: flows
    use: aggregate.flowmeter
    from: traffic
  - id: influx
    use: output.influx
    from: flows
    with: {{ url: {ix.url}, db: conflict, batch_size: 100, backoff_min: 10ms, retry_time: 60s }}
"""
    rc, err, c, took = run(y, tmp, "conflict")
    ic = c.get("influx", {})
    n = ic.get("records_in", 0)
    check(rc == 0 and n > 100 and ic.get("records_rejected") == n and ic.get("retries", 0) == 0
          and ic.get("requests_400", 0) == ic.get("payloads_sent") and took < 30,
          f"400: {ic.get('records_rejected')} of {n} records rejected, "
          f"{ic.get('retries', 0)} retries, {ic.get('requests_400')} 400s, {took:.1f} s")
    check("field type conflict" in err, "400: influx's error body is logged")
    v = one(ix, "SELECT count(bytes) FROM flows", "conflict")
    check(v and v[1] == 1, f"400: only the seeded point is in the database ({v})")


def test_wall_flush(ix, data, tmp):
    """Record time stands still while packets trickle in: the payload must
    still leave within flush_interval of wall time."""
    ix.query("CREATE DATABASE wall")
    fifo = os.path.join(tmp, "trickle.pcap")
    os.mkfifo(fifo)
    y = f"""version: 1
stages:
  - id: capture
    use: input.pcap
    with: {{ path: {fifo}, batch_size: 1 }}
  - id: influx
    use: output.influx
    from: capture
    with: {{ url: {ix.url}, db: wall, measurement: packets, fields: [frame_len], time: ts,
             flush_interval: 300ms }}
"""
    ypath = os.path.join(tmp, "wall.yaml")
    with open(ypath, "w") as f:
        f.write(y)
    p = subprocess.Popen([FLOWLINE, "run", "-v", "--no-progress", ypath],
                         stderr=subprocess.PIPE, text=True)
    raw = open(os.path.join(data, "pcap", "ndpi_1kxun.pcap"), "rb").read()
    # classic pcap: 24-byte header, then 16-byte record headers
    le = raw[:4] == b"\xd4\xc3\xb2\xa1" or raw[:4] == b"\x4d\x3c\xb2\xa1"
    off, n = 24, 0
    while n < 10:
        caplen = int.from_bytes(raw[off + 8:off + 12], "little" if le else "big")
        off += 16 + caplen
        n += 1
    # flowline opens the path twice: once to check it can be read (and
    # closes it unread), then to read it. A write that meets the first
    # open's close fails with EPIPE: write it again to the second.
    w = None
    for _ in range(5):
        try:
            w = open(fifo, "wb")
            w.write(raw[:off])
            w.flush()
            break
        except BrokenPipeError:
            try:
                w.close()
            except BrokenPipeError:
                pass
            w = None
            time.sleep(0.1)
    if w is None:
        p.kill()
        _, err = p.communicate(timeout=60)
        check(False, "wall flush: flowline never read the FIFO:\n" + err[-2000:])
        return
    t0 = time.time()
    got = 0
    while time.time() - t0 < 5 and got < n:
        time.sleep(0.1)
        v = one(ix, "SELECT count(frame_len) FROM packets", "wall")
        got = v[1] if v else 0
    took = time.time() - t0
    still = p.poll() is None
    try:
        w.close()
    except BrokenPipeError:
        pass
    _, err = p.communicate(timeout=60)
    check(got == n and still and took < 2.5,
          f"wall flush: {got} of {n} packets in InfluxDB {took:.2f} s after they were written, "
          f"with the input still open ({still})")


def test_kill_restart(ix, tmp):
    ix.query("CREATE DATABASE killed")
    out = os.path.join(tmp, "kill.csv")
    y = f"""version: 1
stages:
  - id: traffic
    use: input.gen
    with: {{ packets: 3000000, concurrency: 20000, seed: 9 }}
  - id: flows
    use: aggregate.flowmeter
    from: traffic
  - id: influx
    use: output.influx
    from: flows
    with:
      url: {ix.url}
      db: killed
      tags: [src_addr, dst_addr, src_port, dst_port, proto]
      batch_size: 2000
      backoff_min: 50ms
      backoff_max: 500ms
      retry_time: 120s
      timeout: 5s
  - id: csv
    use: output.csv
    from: flows
    with: {{ path: {out}, time_format: epoch_ns }}
"""
    ypath = os.path.join(tmp, "kill.yaml")
    with open(ypath, "w") as f:
        f.write(y)
    p = subprocess.Popen([FLOWLINE, "run", "-v", "--no-progress", ypath],
                         stderr=subprocess.PIPE, text=True)
    errbuf = []
    t = threading.Thread(target=lambda: errbuf.append(p.stderr.read()))
    t.start()
    t0 = time.time()
    seen = 0
    while time.time() - t0 < 60 and not seen:
        v = one(ix, "SELECT count(bytes) FROM flows", "killed")
        seen = v[1] if v else 0
        time.sleep(0.05)
    running = p.poll() is None
    pid = ix.pid()
    ix.kill(signal.SIGKILL)
    print(f"     influxd (pid {pid}) SIGKILLed with {seen} points in, flowline running: {running}")
    time.sleep(3)
    ix.start()
    try:
        p.wait(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
    t.join()
    c = counters(errbuf[0] if errbuf else "")
    ic = c.get("influx", {})
    rows = sum(1 for _ in open(out)) - 1
    v = one(ix, "SELECT count(bytes) FROM flows", "killed")
    got = v[1] if v else 0
    check(p.returncode == 0 and got == rows and ic.get("retries", 0) > 0
          and ic.get("records_dropped", 0) == 0,
          f"kill -9: {got} points == {rows} CSV rows after the restart "
          f"(retries {ic.get('retries', 0)}, sent {ic.get('records_sent')}, rc {p.returncode})")


def test_spool_restart(ix, tmp):
    ix.query("CREATE DATABASE spool")
    spool = os.path.join(tmp, "spool")
    out = os.path.join(tmp, "spool.csv")
    url = ix.url

    def yaml(packets, csv_path):
        return f"""version: 1
stages:
  - id: traffic
    use: input.gen
    with: {{ packets: {packets}, seed: 13 }}
  - id: flows
    use: aggregate.flowmeter
    from: traffic
  - id: influx
    use: output.influx
    from: flows
    with:
      url: {url}
      db: spool
      tags: [src_addr, dst_addr, src_port, dst_port, proto]
      batch_size: 1000
      retry_time: 500ms
      backoff_min: 20ms
      backoff_max: 200ms
      timeout: 2s
      spool_dir: {spool}
  - id: csv
    use: output.csv
    from: flows
    with: {{ path: {csv_path}, time_format: epoch_ns, overwrite: true }}
"""
    ix.kill(signal.SIGKILL)
    rc, err, c, took = run(yaml(200000, out), tmp, "spool1")
    ic = c.get("influx", {})
    rows = sum(1 for _ in open(out)) - 1
    files = [f for f in os.listdir(spool) if f.endswith(".spool")] if os.path.isdir(spool) else []
    check(rc == 0 and ic.get("records_spooled") == rows and ic.get("records_sent", 0) == 0
          and files,
          f"spool: influxd down: {ic.get('records_spooled')} of {rows} records spooled into "
          f"{len(files)} files, run took {took:.1f} s")
    ix.start()
    # A second run with influxd back: it replays the spool first, then its own.
    out2 = os.path.join(tmp, "spool2.csv")
    rc, err, c, took = run(yaml(1, out2), tmp, "spool2")
    ic = c.get("influx", {})
    rows2 = sum(1 for _ in open(out2)) - 1
    v = one(ix, "SELECT count(bytes) FROM flows", "spool")
    got = v[1] if v else 0
    left = [f for f in os.listdir(spool) if f.endswith(".spool")]
    check(rc == 0 and ic.get("records_replayed") == rows and got == rows + rows2 and not left,
          f"spool: restart replayed {ic.get('records_replayed')} of {rows}; the database holds "
          f"{got} == {rows} + {rows2}; spool files left: {len(left)}")


def test_example(ix, data, tmp):
    """conf/examples/flows-to-influx.yaml runs as documented."""
    ix.query("CREATE DATABASE example")
    ex = os.path.join(HERE, "..", "..", "..", "conf", "examples", "flows-to-influx.yaml")
    env = dict(os.environ, PCAP=os.path.join(data, "pcap", "ndpi_1kxun.pcap"), INFLUX=ix.url,
               DB="example", SPOOL=os.path.join(tmp, "spool-example"))
    p = subprocess.run([FLOWLINE, "run", "-v", "--no-progress", ex], capture_output=True,
                       text=True, timeout=120, env=env)
    c = counters(p.stderr)
    n = c.get("flows", {}).get("records_out", 0)
    v = one(ix, "SELECT count(bytes) FROM flows", "example")
    check(p.returncode == 0 and n > 0 and c.get("influx", {}).get("records_sent") == n and v
          and 0 < v[1] <= n,
          f"example: flows-to-influx.yaml sent {n} flows, {v[1] if v else 0} points "
          f"(flows of one service ending in the same ms are one point)")


def test_udp(ix, tmp):
    """udp://: the same lines as datagrams to influxd's UDP listener."""
    y = f"""version: 1
stages:
  - id: traffic
    use: input.gen
    with: {{ packets: 6000, seed: 17 }}
  - id: flows
    use: aggregate.flowmeter
    from: traffic
  - id: influx
    use: output.influx
    from: flows
    with:
      url: udp://127.0.0.1:{ix.udp}
      tags: [src_addr, dst_addr, src_port, dst_port, proto]
      # Loopback, so large datagrams: a burst of a hundred 1400-byte ones
      # overflows the listener's default socket buffer (skb overhead).
      udp_payload: 32KiB
"""
    rc, err, c, _ = run(y, tmp, "udp")
    ic = c.get("influx", {})
    n = ic.get("records_sent", 0)
    got, t0 = 0, time.time()
    while time.time() - t0 < 10 and got < n:
        time.sleep(0.2)
        v = one(ix, "SELECT count(bytes) FROM flows", "udp")
        got = v[1] if v else 0
    check(rc == 0 and n > 0 and got == n and ic.get("datagrams", 0) > 1,
          f"udp: {got} of {n} records in InfluxDB through {ic.get('datagrams')} datagrams")


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    ix = Influxd(tmp, udp_db="udp")
    try:
        ix.start()
        test_flows(ix, data, tmp)
        test_escaping(ix, tmp)
        test_400(ix, tmp)
        test_wall_flush(ix, data, tmp)
        test_kill_restart(ix, tmp)
        test_spool_restart(ix, tmp)
        test_example(ix, data, tmp)
        test_udp(ix, tmp)
    finally:
        ix.kill(signal.SIGTERM)
    print("FAILED: " + "; ".join(FAILS) if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
