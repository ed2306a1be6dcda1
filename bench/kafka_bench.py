#!/usr/bin/python3
"""bench/kafka.sh's driver: output.kafka's cost and rate against librdkafka's
mock cluster (build/kafka_mock, 3 brokers, 4 partitions). See kafka.sh."""
import os, re, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "flowline")
MOCK = os.path.join(ROOT, "build", "kafka_mock")
FLOWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
FORMATS = sys.argv[2:] or ["json", "csv", "batch"]
TICK = os.sysconf("SC_CLK_TCK")


def sample_threads(pid, cpu, stop):
    """cpu[tid] = (name, user + system seconds), the last value seen."""
    while not stop.is_set():
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    st = open(f"/proc/{pid}/task/{tid}/stat").read()
                except OSError:
                    continue
                name = st[st.index("(") + 1:st.rindex(")")]
                f = st[st.rindex(")") + 2:].split()
                cpu[tid] = (name, (int(f[11]) + int(f[12])) / TICK)
        except OSError:
            pass
        time.sleep(0.01)


MOCK_PID = None


def mock_cpu():
    """CPU seconds the mock cluster's process has used so far."""
    f = open(f"/proc/{MOCK_PID}/stat").read()
    f = f[f.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / TICK


def run(yaml_text, tmp, name):
    path = os.path.join(tmp, name + ".yaml")
    open(path, "w").write(yaml_text)
    cpu, stop = {}, threading.Event()
    t0 = time.time()
    r0 = os.times()
    m0 = mock_cpu()
    p = subprocess.Popen([BIN, "run", "-v", "--no-progress", path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    th = threading.Thread(target=sample_threads, args=(p.pid, cpu, stop))
    th.start()
    err, assigned = "", None
    for line in p.stderr:          # when input.kafka got its partitions
        if assigned is None and "assigned" in line:
            assigned = time.time()
        err += line
    p.wait()
    wall = time.time() - (assigned or t0)
    stop.set()
    th.join()
    r1 = os.times()
    total = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    if p.returncode:
        sys.exit(f"{name} failed:\n{err}")
    m1 = mock_cpu()
    c = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
         for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", err, re.M)}
    by = {}
    for name_, secs in cpu.values():
        key = "rdkafka" if name_.startswith("rdk:") else name_
        by[key] = by.get(key, 0) + secs
    by["mock"] = m1 - m0
    return wall, total, by, c


def gen_stages(n):
    # four packets a flow: the flowmeter's records are real flow records
    return f"""  - id: gen
    use: input.gen
    with: {{ packets: {4 * n}, flows: {n}, concurrency: 20000 }}
  - id: flows
    use: aggregate.flowmeter
    from: gen
"""


def main():
    mock = subprocess.Popen([MOCK, "-b", "3", "-p", "4", "src"] + ["dst_" + f for f in FORMATS],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    brokers = mock.stdout.readline().strip()
    global MOCK_PID
    MOCK_PID = mock.pid
    print(f"flowline output.kafka -> librdkafka mock cluster ({brokers}), {FLOWS} flow records")
    print(f"load average {open('/proc/loadavg').read().split()[0]}, {os.cpu_count()} CPUs")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # 1. CPU of the output: gen -> flowmeter -> output.kafka, per thread
            print("\ncost of the output (gen -> flowmeter -> output.kafka; CPU of the stage "
                  "thread and of librdkafka's threads, per 1 M records):")
            for f in FORMATS:
                wall, total, by, c = run(f"""version: 1
stages:
{gen_stages(FLOWS)}  - id: out
    use: output.kafka
    from: flows
    with: {{ brokers: "{brokers}", topic: dst_{f}, key: src_addr, format: {f} }}
""", tmp, "cost_" + f)
                k = c["out"]
                assert k["messages_delivered"] == k["messages_produced"], k
                per_m = 1e6 / k["records_in"]
                stage, rdk = by.get("out", 0) * per_m, by.get("rdkafka", 0) * per_m
                print(f"  {f:5}  {k['records_in']} records, {k['messages_delivered']} messages "
                      f"({k['bytes_delivered'] / k['messages_delivered']:.0f} B each): "
                      f"stage {stage:.2f} s + librdkafka {rdk:.2f} s = {stage + rdk:.2f} s CPU "
                      f"per 1 M records -> {1e6 / stage / 1e6 if stage else 0:.2f} M records/s "
                      f"on the stage's thread; whole run {wall:.1f} s wall, {total:.1f} s CPU")
            # 2. rate: records from a fast source (input.gen's packet records,
            # 15 columns, no flowmeter) into output.kafka, wall time of the
            # whole run against the same source into output.csv on /dev/null
            src = f"""version: 1
stages:
  - id: gen
    use: input.gen
    with: {{ packets: {FLOWS}, batch_size: 4096 }}
"""
            wall0, total0, _, _ = run(src + """  - id: out
    use: output.csv
    from: gen
    with: { path: /dev/null }
""", tmp, "rate_null")
            print(f"\nrate into the mock ({FLOWS} packet records of input.gen, wall time of the "
                  f"whole run, flush included; the same into output.csv on /dev/null: "
                  f"{wall0:.2f} s, {FLOWS / wall0 / 1e6:.2f} M records/s):")
            for f in FORMATS:
                wall, total, by, c = run(src + f"""  - id: out
    use: output.kafka
    from: gen
    with: {{ brokers: "{brokers}", topic: dst_{f}, key: src_addr, format: {f} }}
""", tmp, "rate_" + f)
                k = c["out"]
                assert k["messages_delivered"] == k["messages_produced"], k
                print(f"  {f:5}  {k['messages_delivered']} messages of {k['records_in']} records "
                      f"in {wall:.2f} s: {k['records_in'] / wall / 1e6:.2f} M records/s, "
                      f"{k['messages_delivered'] / wall / 1e3:.0f} k messages/s "
                      f"(flowline {total:.1f} s CPU, the mock cluster {by['mock']:.1f} s)")
    finally:
        mock.stdin.close()
        mock.wait(timeout=60)


main()
