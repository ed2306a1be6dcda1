#!/usr/bin/python3
"""Every capture through the pipeline; accounting of every packet.
usage: check.py DATA TMP"""
import os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["FLOWLINE_BIN"]
DROPS = ("drop_truncated", "drop_not_ip", "unsupported_linktype", "drop_bad_ip", "drop_bad_l4",
         "drop_bad_exthdr")


def counters(stderr):
    """stage id -> {counter: value} from the -v summary."""
    out = {}
    for line in stderr.splitlines():
        m = re.match(r"\s+(\S+) \((\S+)\):(.*)$", line)
        if m:
            out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(3))}
    return out


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    files = sorted(os.listdir(os.path.join(data, "pcap")))
    bad, errors, totals = [], 0, {}
    for name in files:
        env = dict(os.environ, PCAP=os.path.join(data, "pcap", name), OUT=os.path.join(tmp, "out.csv"))
        p = subprocess.run([BIN, "run", "-v", "--no-progress", os.path.join(HERE, "pipeline.yaml")],
                           env=env, capture_output=True, text=True, timeout=120)
        if p.returncode not in (0, 1) or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
            bad.append(f"{name}: exit {p.returncode}: {p.stderr[-2000:]}")
            continue
        if p.returncode == 1:
            errors += 1
            if "error" not in p.stderr:
                bad.append(f"{name}: exit 1 without an error message")
            continue
        c = counters(p.stderr)
        cap, flows = c.get("capture", {}), c.get("flows", {})
        read = cap.get("packets_read", 0)
        drops = sum(cap.get(k, 0) for k in DROPS)
        for k in DROPS + ("fragments", "truncated_record"):
            totals[k] = totals.get(k, 0) + cap.get(k, 0)
        totals["packets_read"] = totals.get("packets_read", 0) + read
        if read != cap.get("records_out", 0) + drops:
            bad.append(f"{name}: packets_read {read} != records {cap.get('records_out', 0)} + drops {drops}: {cap}")
        if flows.get("records_in", 0) != cap.get("records_out", 0):
            bad.append(f"{name}: flowmeter got {flows.get('records_in', 0)} of {cap.get('records_out', 0)} records")
    for b in bad:
        print("FAIL", b)
    print(f"{len(files)} captures, {errors} refused with a clear error, totals: {totals}")
    if totals.get("packets_read", 0) == 0 or sum(totals.get(k, 0) for k in DROPS) == 0:
        print("FAIL: no packets read or no malformed packet counted: the test did not exercise anything")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
