#!/usr/bin/python3
"""workers: N gives exactly the flows of workers: 1; counters per worker sum up."""
import os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["FLOWLINE_BIN"]


def run(tmp, trace, name, workers, yaml="pipeline.yaml", extra=()):
    out = os.path.join(tmp, name + ".csv")
    env = dict(os.environ, TRACE=trace, OUT=out, WORKERS=str(workers))
    p = subprocess.run([BIN, "run", "-v", "--no-progress", *extra, os.path.join(HERE, yaml)],
                       env=env, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        print(f"FAIL {name}: exit {p.returncode}\n{p.stderr[-3000:]}")
        return None, None
    line = re.search(r"^\s+flows \(aggregate\.flowmeter\):(.*)$", p.stderr, re.M).group(1)
    counters = {}
    for k, i, v in re.findall(r"(\w+)(?:\[(\d+)\])?=(\d+)", line):
        counters.setdefault(k, {})["sum" if i == "" else int(i)] = int(v)
    with open(out) as f:
        header, rows = f.readline(), sorted(f.readlines())
    return [header] + rows, counters


def check_counters(name, counters, workers):
    ok = True
    for k, v in counters.items():
        per = [v.get(i) for i in range(workers)]
        if workers > 1 and (None in per or sum(per) != v["sum"]):
            print(f"FAIL {name}: counter {k}: sum {v['sum']} but workers {per}")
            ok = False
    if workers > 1 and min(counters["records_in"][i] for i in range(workers)) == 0:
        print(f"FAIL {name}: a worker got no records: {counters['records_in']}")
        ok = False
    return ok


def main():
    tmp = sys.argv[2]
    trace = os.path.join(tmp, "trace.pcap")
    g = subprocess.run([BIN, "gen", "--packets", "200000", "--concurrency", "5000", "--seed", "7",
                        "--snaplen", "128", "--path", trace], capture_output=True, text=True, timeout=120)
    if g.returncode != 0:
        print("FAIL gen\n" + g.stderr)
        return 1
    ref, rc = run(tmp, trace, "w1", 1)
    if ref is None:
        return 1
    ok = len(ref) > 1000
    runs = [("w2", 2, "pipeline.yaml", ()), ("w3-pairkey", 3, "pipeline-pairkey.yaml", ()),
            ("w2-pin", 2, "pipeline.yaml", ("--pin",))]
    for name, workers, key, extra in runs:
        rows, c = run(tmp, trace, name, workers, key, extra)
        if rows is None:
            return 1
        same = rows == ref
        diff = len(set(rows) ^ set(ref))
        print(f"{name}: {len(rows) - 1} flows, identical to workers: 1: {same} ({diff} rows differ); "
              f"records_in per worker {[c['records_in'][i] for i in range(workers)]}")
        ok &= same and check_counters(name, c, workers)
        ok &= c["records_in"]["sum"] == rc["records_in"]["sum"]
        ok &= c["records_out"]["sum"] == len(ref) - 1
    print(f"workers: 1: {len(ref) - 1} flows from {rc['records_in']['sum']} packets")
    if not ok:
        print("FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
