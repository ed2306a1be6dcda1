#!/usr/bin/python3
"""Run a command and print the peak of its anonymous resident memory in KiB
(RssAnon from /proc/PID/status, sampled every 10 ms). Unlike max RSS, this
leaves out file pages such as a memory-mapped capture."""
import subprocess, sys, time

p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = 0
while p.poll() is None:
    try:
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("RssAnon:"):
                peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.01)
if p.returncode:
    sys.exit(f"command failed with {p.returncode}")
print(peak)
