#!/usr/bin/python3
"""bench/influx.sh's driver: output.influx's throughput and CPU.

Runs input.gen -> aggregate.flowmeter (N flow records) four ways:
  base   no output: what producing the records costs;
  sink   output.influx to a local HTTP server that only drains requests
         (204 at once), gzip off and on: flowline's own encode/send rate;
  influx output.influx into a real influxd 1.6 (tests/integration/110-influx/
         influxd.py), gzip on: points/s the server takes.
For each: wall time, flowline's CPU (user+sys of the process), the CPU of
the output stage's thread (sampled from /proc every 50 ms), records/s, and
CPU per 1 M records. Prints a markdown table.
"""
import os, socket, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "110-influx"))
from influxd import Influxd, free_port  # noqa: E402

BIN = os.environ.get("FLOWLINE_BIN", os.path.join(ROOT, "build", "flowline"))
TICK = os.sysconf("SC_CLK_TCK")


class Sink:
    """HTTP/1.1 keep-alive server that reads each request body and answers
    204: the cheapest server output.influx can talk to."""

    def __init__(self):
        self.port = free_port()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(16)
        self.bytes = 0
        self.requests = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.srv.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = bytearray(1 << 20)
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                n = c.recv_into(buf)
                if not n:
                    return
                data += bytes(buf[:n])
            head, data = data.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(data) < length:
                n = c.recv_into(buf)
                if not n:
                    return
                data += bytes(buf[:n])
            self.bytes += length
            self.requests += 1
            data = data[length:]
            c.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def thread_cpu(pid, name):
    """CPU seconds of the threads of pid named `name` (comm)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
            comm = s[s.index("(") + 1:s.rindex(")")]
            if comm == name or comm.startswith(name + "/"):
                fields = s[s.rindex(")") + 2:].split()
                total += (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def proc_cpu(pid):
    """CPU seconds (user+sys) of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(tmp, name, packets, flows, output):
    y = f"""version: 1
stages:
  - id: traffic
    use: input.gen
    with: {{ packets: {packets}, flows: {flows}, concurrency: 20000, seed: 21 }}
  - id: flows
    use: aggregate.flowmeter
    from: traffic
{output}"""
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(y)
    t0 = time.time()
    p = subprocess.Popen([BIN, "run", "-v", "--no-progress", path], stderr=subprocess.PIPE, text=True)
    out_cpu = 0.0
    err = []
    t = threading.Thread(target=lambda: err.append(p.stderr.read()))
    t.start()
    while p.poll() is None:
        out_cpu = max(out_cpu, thread_cpu(p.pid, "influx"))
        time.sleep(0.05)
    t.join()
    wall = time.time() - t0
    return wall, err[0] if err else "", out_cpu


def run_cpu(tmp, name, packets, flows, output):
    """run() plus the process's CPU from its rusage."""
    before = os.times()
    wall, err, out_cpu = run(tmp, name, packets, flows, output)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, out_cpu, err


def counter(err, stage, name):
    import re
    m = re.search(rf"^\s+{stage} \(\S+\):.*\b{name}=(\d+)", err, re.M)
    return int(m.group(1)) if m else 0


def main():
    packets = int(sys.argv[1]) if len(sys.argv) > 1 else 4000000
    flows = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    tmp = tempfile.mkdtemp(prefix="fl_influx_bench_")
    rows = []
    only_influxd = os.environ.get("ONLY") == "influxd"
    wall0, cpu0, _, err = run_cpu(tmp, "base", packets, flows, "")
    n = counter(err, "flows", "records_out")
    rows.append(("no output (gen + flowmeter)", n, wall0, cpu0, 0.0, ""))
    sink = Sink()
    for gz, workers in () if only_influxd else (("false", 1), ("true", 1), ("true", 2)):
        out = f"""  - id: influx
    use: output.influx
    from: flows
    workers: {workers}
    with: {{ url: "http://127.0.0.1:{sink.port}", db: bench, gzip: {gz},
             tags: [proto, dst_port] }}
"""
        b0 = sink.bytes
        wall, cpu, ocpu, err = run_cpu(tmp, f"sink{gz}{workers}", packets, flows, out)
        sent = counter(err, "influx", "records_sent")
        rows.append((f"draining HTTP sink, gzip {gz}, workers {workers}", sent, wall, cpu, ocpu,
                     f"{(sink.bytes - b0) / max(sent, 1):.0f} B/record on the wire"))
    ix = Influxd(tmp)
    try:
        ix.start()
        ix.query("CREATE DATABASE bench")
        out = f"""  - id: influx
    use: output.influx
    from: flows
    with: {{ url: "{ix.url}", db: bench, tags: [proto, dst_port], retry_time: 600s }}
"""
        icpu0 = proc_cpu(ix.pid())
        wall, cpu, ocpu, err = run_cpu(tmp, "influxd", packets, flows, out)
        icpu = proc_cpu(ix.pid()) - icpu0
        sent = counter(err, "influx", "records_sent")
        v = ix.query("SELECT count(bytes) FROM flows", db="bench")
        stored = v[0]["values"][0][1] if v else 0
        rows.append(("influxd 1.6 (same 2 cores), gzip true", sent, wall, cpu, ocpu,
                     f"{stored} points stored; influxd used {icpu:.1f} CPU s "
                     f"({icpu / max(sent, 1) * 1e6:.0f} s per 1 M points)"))
    finally:
        ix.kill()
    print(f"{packets} packets, {n} flow records per run; CPU of the influx thread sampled every 50 ms\n")
    print("| sink | records | wall s | records/s | flowline CPU s | output thread CPU s "
          "| output CPU s per 1 M records | output records per CPU s | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, recs, wall, cpu, ocpu, note in rows:
        per = f"{ocpu / recs * 1e6:.2f}" if ocpu and recs else "-"
        # the output's own rate on one core: records per CPU second of its threads
        rate = f"{recs / ocpu:,.0f}" if ocpu and recs else "-"
        print(f"| {name} | {recs} | {wall:.2f} | {recs / wall:,.0f} | {cpu:.2f} | "
              f"{ocpu:.2f} | {per} | {rate} | {note} |")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
