#!/usr/bin/python3
"""SIGTERM mid-run: every emitted packet ends up in a written flow."""
import csv, os, re, signal, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    out = os.path.join(sys.argv[2], "flows.csv")
    p = subprocess.Popen([os.environ["FLOWLINE_BIN"], "run", "-v", "--no-progress",
                          os.path.join(HERE, "pipeline.yaml")], env=dict(os.environ, OUT=out),
                         stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        print("FAIL: flowline did not exit within 60 s of SIGTERM")
        return 1
    c = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
         for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", err, re.M)}
    sent = c.get("traffic", {}).get("records_out", 0)
    got = c.get("flows", {}).get("records_in", 0)
    rows = list(csv.DictReader(open(out)))
    packets = sum(int(r["packets"]) for r in rows)
    eof = sum(1 for r in rows if r["end_reason"] == "eof")
    print(f"exit {p.returncode}; input sent {sent} packets, flow meter got {got}, "
          f"{len(rows)} flows written ({eof} flushed at shutdown) holding {packets} packets")
    ok = p.returncode == 0 and sent > 0 and sent == got == packets and eof > 0
    if not ok:
        print("FAIL\n" + err[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
