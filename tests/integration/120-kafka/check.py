#!/usr/bin/python3
"""output.kafka and input.kafka against librdkafka's mock cluster (3 brokers,
topics of 4 partitions) run by kafka_mock in its own process, with kcat as the
consumer nobody here wrote. See README.md."""
import csv, io, ipaddress, json, os, re, signal, struct, subprocess, sys, time

BIN = os.environ["FLOWLINE_BIN"]
MOCK = os.path.join(os.path.dirname(BIN), "kafka_mock")
DATA, TMP = sys.argv[1], sys.argv[2]
PCAP = os.path.join(DATA, "pcap", "ndpi_gnutella.pcap")
FIELDS = ["flow_start", "flow_end", "duration", "proto", "src_addr", "dst_addr", "src_port",
          "dst_port", "packets", "bytes", "ps_avg", "ps_std", "end_reason", "conn_state"]
FAILS = []
PROCS = []   # every process started, stopped by pid at the end


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        FAILS.append(what)
    return ok


class Mock:
    """kafka_mock: the bootstrap list on its first line, commands on stdin;
    it exits when its stdin closes."""

    def __init__(self, topics):
        self.p = subprocess.Popen([MOCK, "-b", "3", "-p", "4"] + topics, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        PROCS.append(self.p)
        self.brokers = self.p.stdout.readline().strip()
        assert re.match(r"^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$", self.brokers), self.brokers

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        ans = self.p.stdout.readline().strip()
        assert ans == "ok", f"kafka_mock {line}: {ans}"

    def stop(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def producer(name, brokers, topic, fmt, extra=""):
    """capture -> flowmeter -> output.kafka, and the same flows to CSV."""
    return write(name + ".yaml", f"""version: 1
stages:
  - id: capture
    use: input.pcap
    with: {{ path: "{PCAP}" }}
  - id: flows
    use: aggregate.flowmeter
    from: capture
  - id: kafka
    use: output.kafka
    from: flows
    with: {{ brokers: "{brokers}", topic: {topic}, key: src_addr, format: {fmt},
            {"" if fmt == "batch" else "fields: [" + ", ".join(FIELDS) + "],"} {extra} }}
  - id: csv
    use: output.csv
    from: flows
    with: {{ path: "{TMP}/{name}.csv", overwrite: true, fields: [{", ".join(FIELDS)}] }}
""")


def consumer(name, brokers, topic, fmt, group, stop_at_end=True, extra=""):
    """input.kafka -> CSV of FIELDS."""
    fields = "" if fmt == "batch" else "fields: [" + ", ".join(FIELDS) + "],"
    return write(name + ".yaml", f"""version: 1
stages:
  - id: kin
    use: input.kafka
    with: {{ brokers: "{brokers}", topics: [{topic}], group: {group}, format: {fmt}, {fields}
            stop_at_end: {str(stop_at_end).lower()} {extra} }}
  - id: csv
    use: output.csv
    from: kin
    with: {{ path: "{TMP}/{name}.csv", overwrite: true, flush_interval: 100ms,
            fields: [{", ".join(FIELDS)}] }}
""")


def counters(text):
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", text, re.M)}


def run(yaml, timeout=120):
    p = subprocess.Popen([BIN, "run", "-v", "--no-progress", yaml], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    PROCS.append(p)
    out, err = p.communicate(timeout=timeout)
    if p.returncode != 0:
        print(err)
    return p.returncode, err, counters(err)


def start(yaml, log):
    f = open(os.path.join(TMP, log), "w")
    p = subprocess.Popen([BIN, "run", "-v", "--no-progress", yaml], stdout=subprocess.DEVNULL,
                         stderr=f)
    PROCS.append(p)
    return p


def finish(p, log, timeout=60):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=timeout)
    text = open(os.path.join(TMP, log)).read()
    return p.returncode, text, counters(text)


def rows(name):
    path = os.path.join(TMP, name + ".csv")
    if not os.path.exists(path):
        return []
    lines = open(path).read().splitlines()
    return lines[1:]


def wait_for(cond, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def kcat(brokers, topic, value="%s"):
    """Every message of the topic: (partition, key, value); value="%S" gives
    the value's length (binary values)."""
    p = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%p\t%k\t" + value + "\n"], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        print(p.stderr)
    return [tuple(line.split("\t", 2)) for line in p.stdout.splitlines()]


def kcat_raw(brokers, topic):
    """Every message of the topic as (partition, value bytes)."""
    p = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%p %S\n%s"], capture_output=True, timeout=60)
    out, i, msgs = p.stdout, 0, []
    while i < len(out):
        j = out.index(b"\n", i)
        part, n = out[i:j].split()
        msgs.append((part.decode(), out[j + 1:j + 1 + int(n)]))
        i = j + 1 + int(n)
    return msgs


SIZES = {1: 1, 2: 2, 3: 4, 4: 8, 5: 8, 6: 8, 7: 1, 8: 8, 9: 8, 10: 16, 11: 6}


def wire_column(m, name):
    """Rows and the cells of column `name` of a batch message, read as
    docs/wire-format.md says (written here, not flowline's decoder)."""
    assert m[:4] == b"FLWB" and m[4] == 1, m[:8]
    flags, hlen, mlen, rows, ncols, slen = struct.unpack_from("<BHIIII", m, 5)
    assert mlen == len(m) and flags & 1
    off, cols = hlen, []
    for _ in range(ncols):
        t, nl, ie, pen = struct.unpack_from("<BBHI", m, off)
        cols.append((m[off + 8:off + 8 + nl].decode(), t))
        off += 8 + nl
    assert off == hlen + slen
    for cname, t in cols:
        sec, sflags, st = struct.unpack_from("<IBB", m, off)
        body = off + 8 + (8 * ((rows + 63) // 64) if sflags & 1 else 0)
        if cname == name:
            return rows, [m[body + i * SIZES[t]:body + (i + 1) * SIZES[t]] for i in range(rows)]
        off += 4 + sec
    raise KeyError(name)


def addr_text(b):
    a = ipaddress.IPv6Address(b)
    return str(a.ipv4_mapped) if a.ipv4_mapped else str(a)


def same_value(cell, v):
    if v is None:
        return cell == ""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return cell != "" and float(cell) == float(v)
    return cell == str(v)


def scenario_formats(mock):
    b = mock.brokers
    # json, keyed by src_addr: read back by kcat
    rc, err, c = run(producer("json", b, "flows_json", "json"))
    base = rows("json")
    n = len(base)
    check(rc == 0 and n > 1000, f"json producer ran ({n} flows of {os.path.basename(PCAP)})")
    k = c.get("kafka", {})
    check(k.get("messages_produced") == n and k.get("messages_delivered") == n
          and "messages_failed" not in k and "messages_undelivered" not in k,
          f"json: every record produced and delivered ({k})")
    msgs = kcat(b, "flows_json")
    check(len(msgs) == n, f"kcat reads {len(msgs)} json messages, {n} flows in the CSV")
    want = sorted(tuple(r) for r in csv.reader(base))
    got, key_ok, part_of = [], True, {}
    for part, key, val in msgs:
        o = json.loads(val)
        key_ok &= key == o["src_addr"]
        part_of.setdefault(key, set()).add(part)
        got.append(o)
    check(key_ok, "json: every message's key is its src_addr as text")
    check(all(len(p) == 1 for p in part_of.values()) and len({p for s in part_of.values() for p in s}) > 1,
          f"json: each of {len(part_of)} hosts in one partition, the hosts over several")
    by_tuple = {}
    for r in want:
        by_tuple.setdefault(r, 0)
        by_tuple[r] += 1
    unmatched = 0
    for o in got:
        cells = tuple(o[f] for f in FIELDS)
        hit = next((r for r in by_tuple if by_tuple[r] and all(same_value(x, v) for x, v in zip(r, cells))), None)
        if hit is None:
            unmatched += 1
        else:
            by_tuple[hit] -= 1
    check(unmatched == 0 and not any(by_tuple.values()),
          f"json: the messages hold the CSV's flows, value for value ({unmatched} unmatched)")

    # csv: the values are the CSV's rows, byte for byte
    rc, err, c = run(producer("csvp", b, "flows_csv", "csv"))
    msgs = kcat(b, "flows_csv")
    check(rc == 0 and sorted(m[2] for m in msgs) == sorted(rows("csvp")) and len(msgs) == n,
          f"csv: kcat's {len(msgs)} values are the CSV's {len(rows('csvp'))} rows")

    # batch: one message per partition and flowmeter batch, no key; every
    # record in the partition its host's json messages went to
    rc, err, c = run(producer("batchp", b, "flows_batch", "batch"))
    msgs = kcat_raw(b, "flows_batch")
    total, placed = 0, True
    for part, m in msgs:
        rows_, cells = wire_column(m, "src_addr")
        total += rows_
        placed &= all(part_of.get(addr_text(x)) == {part} for x in cells)
    check(rc == 0 and c["kafka"]["messages_delivered"] == len(msgs) <= 4 * 10 and total == n,
          f"batch: {len(msgs)} messages holding {total} records (read as docs/wire-format.md says)")
    check(placed, "batch: every record in the partition of its host's json messages (same "
          "partitioner over the key)")

    # flowline's own consumer, each format: the same CSV as the producer's
    for fmt, topic, src in (("json", "flows_json", "json"), ("csv", "flows_csv", "csvp"),
                            ("batch", "flows_batch", "batchp")):
        rc, err, c = run(consumer("in_" + fmt, b, topic, fmt, "g_" + fmt), timeout=60)
        kin = c.get("kin", {})
        check(rc == 0 and sorted(rows("in_" + fmt)) == sorted(rows(src)),
              f"input.kafka {fmt}: {len(rows('in_' + fmt))} records equal the producer's CSV "
              f"({kin})")
    # a restart of the group: nothing again, then exactly what is new
    rc, err, c = run(consumer("again", b, "flows_json", "json", "g_json"), timeout=60)
    check(rc == 0 and rows("again") == [] and "messages_read" not in c.get("kin", {}),
          "input.kafka: the same group again reads nothing (offsets were committed)")
    rc, _, _ = run(producer("json2", b, "flows_json", "json"))
    rc2, err, c = run(consumer("again2", b, "flows_json", "json", "g_json"), timeout=60)
    check(rc == 0 and rc2 == 0 and sorted(rows("again2")) == sorted(rows("json2")),
          f"input.kafka: after {n} more records, the group reads exactly those ({len(rows('again2'))})")
    return n


def scenario_bad(mock):
    b = mock.brokers
    good = [json.dumps({"src_addr": "192.0.2.1", "dst_addr": "2001:db8::1", "packets": 3,
                        "flow_start": "2026-01-01T00:00:00.5+01:00", "end_reason": "fin\n\"x\""}),
            "{}",
            '{"proto": 17, "ps_avg": 1.5e3, "extra": {"nested": [1, "]"]}, "conn_state": null}']
    bad = ["not json", '{"src_addr": "999.1.1.1"}', '{"packets": -1}', '{"proto": 6,}',
           '{"proto": 6} trailing', '{"proto": 6, "proto": 7}', '{"src_port": 65536}',
           '{"duration": "x"}']
    p = subprocess.run(["kcat", "-P", "-b", b, "-t", "bad", "-p", "0"], input="\n".join(good + bad) + "\n",
                       text=True, capture_output=True, timeout=60)
    check(p.returncode == 0, "kcat produced good and bad messages")
    rc, err, c = run(consumer("bad", b, "bad", "json", "g_bad"), timeout=60)
    kin = c.get("kin", {})
    got = list(csv.DictReader(open(os.path.join(TMP, "bad.csv"))))
    check(rc == 0 and kin.get("messages_bad") == len(bad) and kin.get("messages_read") == len(good + bad)
          and len(got) == len(good), f"input.kafka: {len(bad)} bad messages counted and skipped, "
          f"{len(good)} read ({kin})")
    check(got and got[0]["flow_start"] == "2025-12-31T23:00:00.500000000Z"
          and got[0]["end_reason"] == 'fin\n"x"' and got[0]["dst_addr"] == "2001:db8::1"
          and got[1]["src_addr"] == "" and got[2]["ps_avg"] == "1500",
          "input.kafka: values read back (offset time, escapes, missing, nested value skipped)")


def scenario_group(mock, n):
    """Two members of one group split the 4 partitions and see every message once.
    The mock coordinator holds a rebalance for about a session timeout (a
    member id it handed out on the first JoinGroup expires), so the members
    use a short one."""
    b = mock.brokers
    props = ", properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}"
    c1 = start(consumer("m1", b, "grp", "json", "g_grp", stop_at_end=False, extra=props), "m1.log")
    wait_for(lambda: "assigned 4 partitions" in open(os.path.join(TMP, "m1.log")).read(), 20)
    c2 = start(consumer("m2", b, "grp", "json", "g_grp", stop_at_end=False, extra=props), "m2.log")
    both = wait_for(lambda: "assigned 2 partitions" in open(os.path.join(TMP, "m1.log")).read()
                    and "assigned 2 partitions" in open(os.path.join(TMP, "m2.log")).read(), 30)
    check(both, "group: after the second member joined, each has 2 of the 4 partitions")
    rc, err, c = run(producer("grp", b, "grp", "json"))
    wait_for(lambda: len(rows("m1")) + len(rows("m2")) >= n, 30)
    time.sleep(1)    # anything beyond n would be a duplicate
    a, z = rows("m1"), rows("m2")
    check(rc == 0 and len(a) > 0 and len(z) > 0 and len(a) + len(z) == n
          and sorted(a + z) == sorted(rows("grp")),
          f"group: {len(a)} + {len(z)} records, together every one of {n} exactly once")
    # the second member leaves: the first takes all 4 partitions over, from
    # the offsets the second committed, and reads only what is new
    r2, t2, k2 = finish(c2, "m2.log")
    back = wait_for(lambda: open(os.path.join(TMP, "m1.log")).read().count("assigned 4 partitions") == 2, 30)
    rc, err, c = run(producer("grp2", b, "grp", "json"))
    wait_for(lambda: len(rows("m1")) >= len(a) + n, 30)
    time.sleep(1)
    r1, t1, k1 = finish(c1, "m1.log")
    a2 = rows("m1")
    check(rc == 0 and r1 == 0 and r2 == 0 and back, "group: the second member left, the first took its partitions")
    check(len(a2) == len(a) + n and sorted(a2[len(a):]) == sorted(rows("grp2")),
          f"group: after the rebalance the first member read the {n} new records once "
          f"({len(a2) - len(a)})")


def scenario_down(mock, n):
    """Every broker down while a producer and a consumer run; back up: nothing lost."""
    b = mock.brokers
    mock.cmd("down all")
    cons = start(consumer("dc", b, "down", "json", "g_down", stop_at_end=False), "dc.log")
    # a queue of 50 messages: full while the brokers are away, so the stage
    # holds the pipeline back (-FL_EAGAIN) and resumes where it stopped
    prod = start(producer("dp", b, "down", "json", "properties: {queue.buffering.max.messages: 50}"),
                 "dp.log")
    time.sleep(6)
    still = prod.poll() is None
    mock.cmd("up all")
    prod.wait(timeout=60)
    ptext = open(os.path.join(TMP, "dp.log")).read()
    kc = counters(ptext).get("kafka", {})
    check(still, "down: the producer waited for the brokers (still running after 6 s)")
    check(prod.returncode == 0 and kc.get("messages_delivered") == n and "messages_undelivered" not in kc
          and kc.get("queue_full", 0) > 0,
          f"down: the full queue held the pipeline back; after the brokers came back, all {n} "
          f"records delivered ({kc})")
    wait_for(lambda: len(rows("dc")) >= n, 40)
    time.sleep(1)
    rc, text, c = finish(cons, "dc.log")
    check(rc == 0 and sorted(rows("dc")) == sorted(rows("dp")),
          f"down: the consumer got all {n} records once ({len(rows('dc'))})")

    # the brokers stay away: the producer gives up after flush_timeout and says so
    mock.cmd("down all")
    rc, err, c = run(producer("gone", b, "down", "json", "flush_timeout: 2s"), timeout=60)
    kc = c.get("kafka", {})
    check(rc == 0 and kc.get("messages_undelivered") == n and "not delivered within flush_timeout" in err,
          f"down: brokers that stay away: {kc.get('messages_undelivered')} undelivered, counted and logged")
    mock.cmd("up all")


def scenario_example(mock):
    """conf/examples/flows-to-kafka.yaml as its comment says to run it."""
    ex = os.path.join(os.environ.get("FLOWLINE_SRC", os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "../../..")), "conf/examples/flows-to-kafka.yaml")
    p = subprocess.run([BIN, "run", "-v", "--no-progress", ex], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PCAP=PCAP, BROKERS=mock.brokers,
                                             TOPIC="example"))
    k = counters(p.stderr).get("to_kafka", {})
    if p.returncode != 0:
        print(p.stderr)
    msgs = kcat(mock.brokers, "example")
    objs = [json.loads(m[2]) for m in msgs]
    check(p.returncode == 0 and k.get("messages_delivered") == k.get("records_in") == len(msgs) > 1000
          and all(o["src_addr"] == m[1] for o, m in zip(objs, msgs))
          and all(list(o) == ["flow_start", "flow_end", "src_addr", "dst_addr", "src_port", "dst_port",
                              "proto", "packets", "bytes", "duration", "end_reason"] for o in objs),
          f"example flows-to-kafka.yaml: {len(msgs)} json messages keyed by src_addr ({k})")


def main():
    mock = Mock(["flows_json", "flows_csv", "flows_batch", "bad", "grp", "down", "example"])
    try:
        n = scenario_formats(mock)
        scenario_bad(mock)
        scenario_example(mock)
        scenario_group(mock, n)
        scenario_down(mock, n)
        mock.stop()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
    if FAILS:
        print(f"{len(FAILS)} checks failed")
        sys.exit(1)
    print("all checks passed")


main()
