#!/usr/bin/python3
"""output.cassandra against the CQL v4 test server (cql_server.py, built on
python3-cassandra's protocol module): seed 000's table from a real capture,
rows equal to flowline's CSV of the same run, requests equal byte for byte
to the driver's encoding, errors, authentication, failover, a server crash
mid-run. See README.md."""
import csv, decimal, os, re, signal, socket, struct, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cql_server  # noqa: E402

BIN = os.environ["FLOWLINE_BIN"]
SRC = os.environ.get("FLOWLINE_SRC", os.path.join(HERE, "../../.."))
EXAMPLE = os.path.join(SRC, "conf/examples/pcap-to-cassandra.yaml")
DATA, TMP = sys.argv[1], sys.argv[2]
PCAP = os.path.join(DATA, "pcap", "ndpi_1kxun.pcap")   # 197 flows, 25 of them IPv6
FAILS = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        FAILS.append(what)
    return ok


class CqlServer:
    """cql_server.py in its own process; stopped by its pid."""

    def __init__(self, name, *args, port=0):
        self.journal = os.path.join(TMP, name + ".journal")
        self.stats_path = os.path.join(TMP, name + ".stats.json")
        self.err = open(os.path.join(TMP, name + ".server.err"), "a")
        self.args = list(args)
        self.start(port)

    def start(self, port=0):
        self.p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "cql_server.py"),
                                   "--port", str(port), "--journal", self.journal,
                                   "--stats", self.stats_path] + self.args,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("cql_server.py did not start: " + line)
        self.port = int(line.split()[1])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(10)
        import json
        return json.load(open(self.stats_path)) if os.path.exists(self.stats_path) else {}

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)

    def table(self, ks="flows", t="flowfeaturess"):
        return cql_server.load_journal(self.journal).get(f"{ks}.{t}")


SERVERS = []


def server(name, *args, port=0):
    s = CqlServer(name, *args, port=port)
    SERVERS.append(s)
    return s


def example_with_csv(name, csv_path, **over):
    """The example pipeline as it is, plus an output.csv on the same flows;
    `over` replaces lines of the store stage's `with:` (key: value)."""
    text = open(EXAMPLE).read()
    for k, v in over.items():
        if re.search(rf"^      {k}:.*$", text, re.M):
            text = re.sub(rf"^      {k}:.*$", f"      {k}: {v}", text, flags=re.M)
        else:
            text = text.replace("      keyspace:", f"      {k}: {v}\n      keyspace:", 1)
    text += f"""
  - id: reference
    use: output.csv
    from: flows
    with:
      path: "{csv_path}"
      overwrite: true
      fields: [src_addr, dst_addr, src_port, dst_port, proto, bytes, ps_avg, ps_min, ps_max,
               packets, payload_bytes, pay_avg, pay_min, pay_max, ps_std, pay_std, duration, nopay]
"""
    path = os.path.join(TMP, name + ".yaml")
    open(path, "w").write(text)
    return path


def run(yaml, port, extra_env=None, timeout=120, background=False):
    env = dict(os.environ, PCAP=PCAP, CASSANDRA=f"127.0.0.1:{port}", **(extra_env or {}))
    cmd = [BIN, "run", "-v", "--no-progress", yaml]
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr, counters(p.stderr)


def counters(stderr):
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", stderr, re.M)}


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def expected_rows(csv_path):
    """Seed 000's table as flowline's CSV says it must hold: one row per
    primary key, the last flow written for a key wins (upserts)."""
    rows = {}
    for r in csv.DictReader(open(csv_path)):
        dur_ms = int(decimal.Decimal(r["duration"]) * 1000)   # int column, time_unit ms
        row = {"srcaddr": r["src_addr"], "dstaddr": r["dst_addr"], "srcp": int(r["src_port"]),
               "dstp": int(r["dst_port"]), "proto": r["proto"], "size": float(r["bytes"]),
               "avgps": f32(float(r["ps_avg"])), "minps": int(r["ps_min"]),
               "maxps": int(r["ps_max"]), "packets": int(r["packets"]),
               "paysize": float(r["payload_bytes"]), "avgpays": f32(float(r["pay_avg"])),
               "minpays": int(r["pay_min"]), "maxpays": int(r["pay_max"]),
               "stddps": f32(float(r["ps_std"])), "stddpays": f32(float(r["pay_std"])),
               "duration": dur_ms, "nopayloadcnt": int(r["nopay"])}
        rows[(row["srcaddr"], row["dstaddr"], row["srcp"], row["dstp"], row["proto"])] = row
    return rows


def compare_table(what, tab, csv_path):
    exp = expected_rows(csv_path)
    n_csv = sum(1 for _ in open(csv_path)) - 1
    if not check(tab is not None, f"{what}: the table exists on the server"):
        return
    got = {(r["srcaddr"], r["dstaddr"], r["srcp"], r["dstp"], r["proto"]): r for r in tab["rows"]}
    check(n_csv > 100 and len(exp) > 100, f"{what}: the capture gives {n_csv} flows, {len(exp)} keys")
    check(len(got) == len(exp), f"{what}: {len(got)} rows in the table, {len(exp)} keys in the CSV")
    bad = [k for k in exp if got.get(k) != exp[k]]
    check(not bad, f"{what}: every row equals the CSV's flow ({len(bad)} differ"
          + (f", first {bad[0]}: table {got.get(bad[0])} csv {exp[bad[0]]}" if bad else "") + ")")
    v6 = sum(1 for k in got if ":" in k[0])
    check(v6 > 0, f"{what}: IPv6 addresses stored as text too ({v6} rows)")


def check_bytes(what, st, expect_writes=None):
    n = sum(st.get("requests", {}).values())
    check(n > 0 and st.get("compared") == n and st.get("n_mismatches") == 0,
          f"{what}: {st.get('compared')} of {n} requests equal byte for byte to the driver's "
          f"encoding ({st.get('n_mismatches')} differ{': ' + str(st['mismatches'][:1]) if st.get('mismatches') else ''})")


def driver_select(port, ks, table):
    """SELECT * through the driver's own classes: its StartupMessage and
    QueryMessage encoded by ProtocolHandler, the answer decoded by its
    decode_message (so the server's RESULT Rows, and the values it kept,
    are read by the reference client, types included)."""
    P = cql_server.P
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = sock.makefile("rb")

    def ask(msg, stream):
        sock.sendall(P.ProtocolHandler.encode_message(msg, stream, 4, None, False))
        ver, flags, sid, opcode, length = struct.unpack(">BBhBi", f.read(9))
        return P.ProtocolHandler.decode_message(4, {}, sid, flags, opcode, f.read(length), None, None)

    ready = ask(P.StartupMessage(cqlversion="3.0.0", options={}), 1)
    res = ask(P.QueryMessage(f"SELECT * FROM {ks}.{table}", 1), 2)
    sock.close()
    if not isinstance(ready, P.ReadyMessage) or not isinstance(res, P.ResultMessage):
        return None
    return [dict(zip(res.column_names, r)) for r in res.parsed_rows]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    # ---- 1. the example as it is: EXECUTE per row, CREATE from the config --
    srv = server("example")
    csv1 = os.path.join(TMP, "example.csv")
    rc, err, c = run(example_with_csv("example", csv1), srv.port)
    check(rc == 0, f"conf/examples/pcap-to-cassandra.yaml runs (exit {rc}){'' if rc == 0 else ': ' + err[-800:]}")
    st = srv.stop()
    check(st.get("requests", {}).get("EXECUTE", 0) > 100 and "BATCH" not in st.get("requests", {}),
          f"batch_rows 1: one EXECUTE per row ({st.get('requests')})")
    check(st.get("requests", {}).get("PREPARE") == 1, "the INSERT is prepared once")
    check(st.get("requests", {}).get("QUERY") == 2, "CREATE KEYSPACE and CREATE TABLE, once each")
    check_bytes("example", st)
    cs = c.get("store", {})
    check(cs.get("rows_written") == cs.get("records_in") == st.get("inserts"),
          f"rows_written {cs.get('rows_written')} = records in {cs.get('records_in')} = "
          f"rows the server inserted {st.get('inserts')}")
    tab = srv.table()
    compare_table("example", tab, csv1)
    check(tab and tab["pk"] == ["srcaddr", "dstaddr"] and tab["ck"] == ["srcp", "dstp", "proto"],
          "the table's key is PRIMARY KEY((srcaddr, dstaddr), srcp, dstp, proto)")
    srv.start()                       # the same journal, read by the driver
    rows = driver_select(srv.port, "flows", "flowfeaturess")
    srv.stop()
    exp = expected_rows(csv1)
    got = {(r["srcaddr"], r["dstaddr"], r["srcp"], r["dstp"], r["proto"]): r for r in rows or []}
    check(rows is not None and len(got) == len(exp) and all(got.get(k) == v for k, v in exp.items()),
          f"the driver reads the table back (RESULT Rows) equal to the CSV ({len(got)} rows)")
    types = dict(tab["columns"]) if tab else {}
    check(types.get("srcaddr") == 0x0D and types.get("proto") == 0x0D and types.get("avgps") == 0x08
          and types.get("size") == 0x07 and types.get("duration") == 0x09,
          "column types as the seed's table: varchar addresses and proto, float, double, int")

    # ---- 2. unlogged BATCHes of 20 rows, 4 in flight -------------------------
    srv = server("batch")
    csv2 = os.path.join(TMP, "batch.csv")
    rc, err, c = run(example_with_csv("batch", csv2, batch_rows=20, in_flight=4), srv.port)
    st = srv.stop()
    check(rc == 0 and st.get("requests", {}).get("BATCH", 0) >= 10
          and "EXECUTE" not in st.get("requests", {}),
          f"batch_rows 20: unlogged BATCH requests ({st.get('requests')}, exit {rc})")
    check_bytes("batch", st)
    compare_table("batch", srv.table(), csv2)

    # ---- 2b. workers: 2, a connection each -----------------------------------
    srv = server("workers")
    csvw = os.path.join(TMP, "workers.csv")
    y = example_with_csv("workers", csvw, in_flight=8)
    text = open(y).read().replace("    use: output.cassandra\n",
                                  "    use: output.cassandra\n    workers: 2\n")
    open(y, "w").write(text)
    rc, err, c = run(y, srv.port)
    st = srv.stop()
    conns = sum(v.get("connects", 0) for k, v in c.items() if k.startswith("store"))
    check(rc == 0 and st.get("requests", {}).get("STARTUP") == 2 and conns == 2,
          f"workers: 2: two connections, each its own STARTUP and PREPARE (exit {rc}, {st.get('requests')})")
    check_bytes("workers", st)
    compare_table("workers", srv.table(), csvw)

    # ---- 3. retryable errors: Unavailable, Write_timeout, Overloaded, a dropped connection
    srv = server("retry", "--fault", "unavailable@3", "--fault", "write_timeout@40",
                 "--fault", "overloaded@90", "--fault", "unprepared@120", "--fault", "close@300")
    csv3 = os.path.join(TMP, "retry.csv")
    rc, err, c = run(example_with_csv("retry", csv3, backoff_min="10ms"), srv.port)
    st = srv.stop()
    cs = c.get("store", {})
    check(rc == 0, f"retryable errors: the run ends normally (exit {rc}){'' if rc == 0 else err[-600:]}")
    check(len(st.get("faults", [])) == 5, f"the server answered the faults {st.get('faults')}")
    check(cs.get("errors_unavailable") == 1 and cs.get("errors_write_timeout") == 1
          and cs.get("errors_overloaded") == 1 and cs.get("retries", 0) >= 2,
          f"errors decoded and counted, each retried ({cs})")
    check("Unavailable (0x1000): Cannot achieve consistency level ONE [consistency one: 1 replicas required, 0 alive]" in err,
          "Unavailable reported with its consistency, required and alive replicas")
    check("Write_timeout (0x1100)" in err and "write type SIMPLE" in err,
          "Write_timeout reported with its write type")
    check("EXECUTE: Unprepared (0x2500)" in err and st.get("requests", {}).get("PREPARE", 0) >= 2,
          "Unprepared: the statement is prepared again and the rows sent again")
    check_bytes("retry", st)
    compare_table("retry", srv.table(), csv3)

    # ---- 4. errors that retrying cannot cure --------------------------------
    srv = server("syntax", "--fault", "syntax@prepare")
    t0 = time.time()
    rc, err, c = run(example_with_csv("syntax", os.path.join(TMP, "syntax.csv")), srv.port)
    srv.stop()
    check(rc != 0 and "Syntax_error (0x2000): line 1:0 no viable alternative at input 'INSRT'" in err
          and time.time() - t0 < 30,
          f"a Syntax_error on PREPARE stops the run at once with the server's message (exit {rc}, "
          f"{time.time() - t0:.1f}s): {err.strip().splitlines()[-1] if err.strip() else ''}")

    srv = server("invalid", "--fault", "invalid@5")
    rc, err, c = run(example_with_csv("invalid", os.path.join(TMP, "invalid.csv")), srv.port)
    srv.stop()
    check(rc != 0 and "the server refused rows: Invalid (0x2200): Invalid value (injected)" in err,
          f"an Invalid answer to a write stops the run with the server's message (exit {rc})")

    srv = server("drop", "--fault", "invalid@5,7")
    csv5 = os.path.join(TMP, "drop.csv")
    rc, err, c = run(example_with_csv("drop", csv5, drop_invalid="true"), srv.port)
    st = srv.stop()
    check(rc == 0 and c.get("store", {}).get("records_rejected") == 2,
          f"drop_invalid: the two refused rows are counted, the run goes on (exit {rc}, {c.get('store')})")
    tab = srv.table()
    check(tab and len(tab["rows"]) == st.get("inserts") and st.get("inserts") == c["store"]["records_in"] - 2,
          "drop_invalid: every other row is in the table")

    # ---- 5. authentication ---------------------------------------------------
    srv = server("auth", "--auth", "flowline:s3cret")
    csv6 = os.path.join(TMP, "auth.csv")
    rc, err, c = run(example_with_csv("auth", csv6, user="flowline", password="${CQL_PASSWORD}"),
                     srv.port, {"CQL_PASSWORD": "s3cret"})
    check(rc == 0, f"PLAIN authentication with user and password (exit {rc}){'' if rc == 0 else err[-400:]}")
    rc, err, c = run(example_with_csv("auth-bad", os.path.join(TMP, "x.csv"), user="flowline",
                                      password="wrong"), srv.port)
    check(rc != 0 and "refused the credentials of user: Provided username and/or password are incorrect" in err,
          f"a wrong password stops the run with the server's message (exit {rc})")
    rc, err, c = run(example_with_csv("auth-none", os.path.join(TMP, "y.csv")), srv.port)
    check(rc != 0 and "asks for authentication (org.apache.cassandra.auth.PasswordAuthenticator): set user and password" in err,
          f"no credentials for a server that asks: a clear error (exit {rc})")
    st = srv.stop()
    check_bytes("auth", st)
    compare_table("auth", srv.table(), csv6)

    # ---- 6. failover: the first contact point is down -------------------------
    srv = server("failover")
    dead = free_port()
    csv7 = os.path.join(TMP, "failover.csv")
    y = example_with_csv("failover", csv7)
    text = open(y).read().replace('hosts: [ "${CASSANDRA:-127.0.0.1:9042}" ]',
                                  f'hosts: [ "127.0.0.1:{dead}", "${{CASSANDRA}}" ]')
    open(y, "w").write(text)
    rc, err, c = run(y, srv.port)
    srv.stop()
    check(rc == 0 and f"127.0.0.1:{dead}: connect to 127.0.0.1:{dead}: Connection refused" in err,
          f"the dead contact point is reported and the next one used (exit {rc})")
    compare_table("failover", srv.table(), csv7)

    # ---- 7. the server crashes mid-run and comes back -------------------------
    srv = server("crash", "--fault", "die@60")
    port = srv.port
    csv8 = os.path.join(TMP, "crash.csv")
    p = run(example_with_csv("crash", csv8, backoff_min="50ms", backoff_max="500ms"), port,
            background=True)
    srv.p.wait(60)
    check(srv.p.returncode == 3, f"the server died at the 60th write (exit {srv.p.returncode})")
    time.sleep(1.5)                       # down for a while: flowline holds the rows back
    check(p.poll() is None, "flowline waits for the server instead of ending")
    srv.args = []
    srv.start(port)                        # the same port and journal: its rows survive
    out, err = p.communicate(timeout=120)
    st = srv.stop()
    c = counters(err)
    check(p.returncode == 0, f"the run ends normally after the restart (exit {p.returncode}){'' if p.returncode == 0 else err[-600:]}")
    check(st.get("requests", {}).get("PREPARE", 0) == 1,
          f"the INSERT prepared again on the restarted server ({st.get('requests')})")
    check(c.get("store", {}).get("connects", 0) >= 2, f"reconnected ({c.get('store')})")
    compare_table("crash", srv.table(), csv8)

    # ---- 8. no server past retry_time: spooled, replayed by the next run -----
    # (never reached: columns: gives every type, so rows are encoded and
    # spooled without the table's answer)
    port = free_port()
    spool = os.path.join(TMP, "spool")
    csv9 = os.path.join(TMP, "spool1.csv")
    over = dict(batch_size=50, retry_time="300ms", backoff_min="20ms", backoff_max="100ms",
                spool_dir=f'"{spool}"')
    rc, err, c = run(example_with_csv("spool1", csv9, **over), port)
    cs = c.get("store", {})
    check(rc == 0 and cs.get("records_spooled") == cs.get("records_in") and not cs.get("records_dropped"),
          f"no server past retry_time: every record spooled, none dropped (exit {rc}, {cs})")
    srv = server("spool", port=port)
    csv10 = os.path.join(TMP, "spool2.csv")
    global PCAP
    first, PCAP = PCAP, os.path.join(DATA, "pcap", "ndpi_reddit.pcap")
    rc, err, c = run(example_with_csv("spool2", csv10, **over), port)
    PCAP = first
    srv.stop()
    cs = c.get("store", {})
    check(rc == 0 and cs.get("records_replayed") == 197,
          f"the next run replays the spool first (exit {rc}, {cs})")
    tab = srv.table()
    both = os.path.join(TMP, "spool-both.csv")
    lines = open(csv9).read().splitlines() + open(csv10).read().splitlines()[1:]
    open(both, "w").write("\n".join(lines) + "\n")
    compare_table("spool then a second capture", tab, both)

    for s in SERVERS:
        s.kill()
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    finally:
        for s in SERVERS:
            s.kill()
