#!/usr/bin/python3
"""Operating a long run: SIGUSR1 prints the counters and the run goes on;
SIGHUP after a logrotate-style rename starts a new file (with its header)
and loses nothing; SIGTERM drains. A capture flowline cannot use gets a
summary line on stderr, and --strict turns it into exit status 3."""
import os, re, signal, struct, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["FLOWLINE_BIN"]


def wait_for(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def signals(tmp):
    out = os.path.join(tmp, "flows.csv")
    err_path = os.path.join(tmp, "err")
    with open(err_path, "w") as err:
        p = subprocess.Popen([BIN, "run", "-v", "--no-progress", os.path.join(HERE, "pipeline.yaml")],
                             env=dict(os.environ, OUT=out), stderr=err)
        try:
            ok = wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 10000, 20)
            p.send_signal(signal.SIGUSR1)
            ok &= wait_for(lambda: "stage counters:" in open(err_path).read(), 10)
            ok &= p.poll() is None                       # SIGUSR1 did not stop it
            os.rename(out, out + ".1")                   # what logrotate does
            p.send_signal(signal.SIGHUP)
            ok &= wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 100, 20)
            ok &= p.poll() is None                       # nor did SIGHUP
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
    text = open(err_path).read()
    c = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
         for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", text, re.M)}
    sent = c.get("traffic", {}).get("records_out", 0)
    files = [open(f).read().splitlines() for f in (out + ".1", out)]
    headers = sum(1 for lines in files for l in lines if l == "packets,end_reason")
    packets = sum(int(l.split(",")[0]) for lines in files for l in lines[1:])
    print(f"exit {p.returncode}; {len(files[0]) - 1} rows before SIGHUP, {len(files[1]) - 1} after; "
          f"{headers} headers; {packets} packets written of {sent} sent")
    ok &= p.returncode == 0 and headers == 2 and all(f[0] == "packets,end_reason" for f in files)
    ok &= len(files[1]) > 1 and sent > 0 and packets == sent
    if not ok:
        print("FAIL signals\n" + text[-3000:])
    return ok


def summary(tmp):
    """A capture of a link type flowline does not decode (147, LINKTYPE_USER0)."""
    cap = os.path.join(tmp, "user0.pcap")
    with open(cap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 147))
        for i in range(5):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, 4, 4) + b"abcd")
    yaml = os.path.join(tmp, "s.yaml")
    with open(yaml, "w") as f:
        f.write("version: 1\nstages:\n  - {id: capture, use: input.pcap, with: {path: user0.pcap}}\n"
                "  - {id: out, use: output.json, from: capture, with: {path: o.json}}\n")
    ok = True
    for strict, want in ((False, 0), (True, 3)):
        p = subprocess.run([BIN, "run", "--no-progress", yaml] + (["--strict"] if strict else []),
                           capture_output=True, text=True, timeout=60)
        line = [l for l in p.stderr.splitlines() if l.startswith("flowline: not every record was used")]
        print(f"strict={strict}: exit {p.returncode}; {line}")
        ok &= p.returncode == want and len(line) == 1 and "capture: unsupported_linktype=5" in line[0]
    with open(os.path.join(tmp, "clean.yaml"), "w") as f:
        f.write("version: 1\nstages:\n  - {id: traffic, use: input.gen, with: {packets: 5000, seed: 3}}\n"
                "  - {id: out, use: output.json, from: traffic, with: {path: clean.json}}\n")
    clean = subprocess.run([BIN, "run", "--no-progress", "--strict", os.path.join(tmp, "clean.yaml")],
                           capture_output=True, text=True, timeout=60)
    print(f"clean run with --strict: exit {clean.returncode}, stderr {clean.stderr!r}")
    ok &= clean.returncode == 0 and clean.stderr == ""
    if not ok:
        print("FAIL summary")
    return ok


if __name__ == "__main__":
    tmp = sys.argv[2]
    ok = signals(tmp)
    ok &= summary(tmp)
    sys.exit(0 if ok else 1)
