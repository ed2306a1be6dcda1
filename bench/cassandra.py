#!/usr/bin/python3
"""Benchmark: output.cassandra into the CQL v4 test server
(tests/integration/130-cassandra/cql_server.py). See bench/cassandra.sh.

A generated capture (input.gen: FLOWS flows of about 10 packets) goes
through input.pcap -> aggregate.flowmeter -> output.cassandra (seed 000's
table), once per configuration:

  - the test server in full (every request decoded, re-encoded by the
    driver and compared, rows kept): what the Python server can take;
  - the server as a sink (writes answered unread): what flowline can send
    when the server is not the limit;
  - EXECUTE per row (batch_rows 1) and unlogged BATCHes of 100 rows;
  - the same pipeline into output.csv (to /dev/null): the cost of the rest
    of the pipeline, subtracted to get output.cassandra's own CPU.

Per run: rows/s (flow records written / wall time of the run), flowline's
CPU (user+sys of the process) per 1 M rows, and the server's CPU over the
same run (from /proc), so the bottleneck shows: the side near one full core
is the limit."""
import os, re, resource, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build/flowline")
SERVER = os.path.join(ROOT, "tests/integration/130-cassandra/cql_server.py")
FLOWS = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
TCK = os.sysconf("SC_CLK_TCK")

STORE = """  - id: store
    use: output.cassandra
    from: flows
    with:
      hosts: [ "127.0.0.1:{port}" ]
      keyspace: bench
      table: flowfeaturess
      create: true
      columns: {{ srcaddr: varchar, dstaddr: varchar, srcp: int, dstp: int, proto: varchar,
                 size: double, avgps: float, minps: int, maxps: int, packets: int,
                 paysize: double, avgpays: float, minpays: int, maxpays: int, stddps: float,
                 stddpays: float, duration: int, nopayloadcnt: int }}
      primary_key: "(srcaddr, dstaddr), srcp, dstp, proto"
      batch_rows: {batch_rows}
      in_flight: {in_flight}
      batch_size: {batch_size}
"""
CSV = """  - id: store
    use: output.csv
    from: flows
    with:
      path: "-"
      fields: [srcaddr, dstaddr, srcp, dstp, proto, size, avgps, minps, maxps, packets, paysize,
               avgpays, minpays, maxpays, stddps, stddpays, duration, nopayloadcnt]
"""


def pipeline(tmp, pcap, sink):
    return f"""version: 1
stages:
  - id: capture
    use: input.pcap
    with: {{ path: "{pcap}" }}
  - id: flows
    use: aggregate.flowmeter
    from: capture
    with: {{ idle_timeout: 60s, active_timeout: 300s }}
{sink}"""


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TCK


def run_flowline(yaml, stdout=subprocess.DEVNULL):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([BIN, "run", "-v", "--no-progress", yaml], stdout=stdout,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0:
        sys.exit(f"flowline failed: {p.stderr[-2000:]}")
    m = re.search(r"store \(output\.\w+\):.*?records_in=(\d+)", p.stderr)
    w = re.search(r"rows_written=(\d+)", p.stderr)
    return wall, cpu, int(m.group(1)), int(w.group(1)) if w else None


def main():
    tmp = tempfile.mkdtemp(prefix="fl_bench_cql_")
    pcap = os.path.join(tmp, "gen.pcap")
    gen = os.path.join(tmp, "gen.yaml")
    open(gen, "w").write(f"""version: 1
stages:
  - id: g
    use: input.gen
    with: {{ packets: {FLOWS * 10}, flows: {FLOWS}, concurrency: 5000, emit: false,
             path: "{pcap}", overwrite: true }}
""")
    subprocess.run([BIN, "run", "--no-progress", gen], check=True, stderr=subprocess.DEVNULL)
    y = os.path.join(tmp, "csv.yaml")
    open(y, "w").write(pipeline(tmp, pcap, CSV))
    base = [run_flowline(y) for _ in range(2)]
    b_wall, b_cpu, rows, _ = min(base)
    print(f"capture: {FLOWS * 10} packets, {rows} flow records")
    print(f"baseline pcap -> flowmeter -> output.csv (/dev/null): {rows / b_wall:,.0f} rows/s, "
          f"flowline CPU {b_cpu / rows * 1e6:.2f} s per 1 M rows")
    print()
    print("| server | batch_rows | in_flight | rows/s | flowline CPU s / 1 M rows "
          "(output.cassandra alone) | server CPU s / 1 M rows | server busy |")
    print("|---|---|---|---|---|---|---|")
    configs = [("test server (decode, compare, keep)", [], 1, 64),
               ("test server (decode, compare, keep)", [], 100, 8),
               ("sink (writes unread)", ["--sink"], 1, 64),
               ("sink (writes unread)", ["--sink"], 100, 8),
               ("sink (writes unread)", ["--sink"], 1000, 4)]
    for name, args, br, inf in configs:
        srv = subprocess.Popen(["/usr/bin/python3", SERVER, "--port", "0"] + args,
                               stdout=subprocess.PIPE, text=True)
        port = int(srv.stdout.readline().split()[1])
        y = os.path.join(tmp, "cql.yaml")
        open(y, "w").write(pipeline(tmp, pcap, STORE.format(port=port, batch_rows=br,
                                                             in_flight=inf,
                                                             batch_size=max(5000, br * inf))))
        c0 = proc_cpu(srv.pid)
        wall, cpu, rows_in, written = run_flowline(y)
        scpu = proc_cpu(srv.pid) - c0
        srv.terminate()
        srv.wait()
        if written != rows_in:
            sys.exit(f"{name}: {written} rows written of {rows_in}")
        own = max(cpu - b_cpu, 0.0)
        print(f"| {name} | {br} | {inf} | {rows_in / wall:,.0f} | {cpu / rows_in * 1e6:.2f} "
              f"({own / rows_in * 1e6:.2f}) | {scpu / rows_in * 1e6:.2f} | {scpu / wall * 100:.0f}% |",
              flush=True)
    # output.cassandra alone (build/cassandra_load through the harness)
    load = os.path.join(ROOT, "build/cassandra_load")
    print()
    print("output.cassandra alone (build/cassandra_load: batches of 4096 synthetic flow records, "
          "no pipeline in front), into the sink:")
    print()
    print("| batch_rows | in_flight | rows | rows/s | flowline CPU s / 1 M rows | "
          "rows/s per flowline CPU second | sink CPU s / 1 M rows |")
    print("|---|---|---|---|---|---|---|")
    for br, inf, millions in ((1, 64, 0.2), (100, 8, 2), (1000, 4, 2)):
        srv = subprocess.Popen(["/usr/bin/python3", SERVER, "--port", "0", "--sink"],
                               stdout=subprocess.PIPE, text=True)
        port = int(srv.stdout.readline().split()[1])
        c0 = proc_cpu(srv.pid)
        out = subprocess.run([load, str(port), str(millions), str(br), str(inf)],
                             capture_output=True, text=True)
        scpu = proc_cpu(srv.pid) - c0
        srv.terminate()
        srv.wait()
        m = re.match(r"rows (\d+) written (\d+) wall ([\d.]+) cpu ([\d.]+)", out.stdout)
        if out.returncode != 0 or not m:
            sys.exit(f"cassandra_load failed: {out.stdout} {out.stderr[-1000:]}")
        rows, wall, cpu = int(m.group(1)), float(m.group(3)), float(m.group(4))
        print(f"| {br} | {inf} | {rows:,} | {rows / wall:,.0f} | {cpu / rows * 1e6:.2f} | "
              f"{rows / cpu:,.0f} | {scpu / rows * 1e6:.2f} |", flush=True)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
