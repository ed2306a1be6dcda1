#!/usr/bin/python3
"""Fan-in of two inputs, fan-out to two outputs."""
import csv, json, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    data, tmp = sys.argv[1], sys.argv[2]
    out = os.path.join(tmp, "flows")
    env = dict(os.environ, PCAP_A=os.path.join(data, "pcap", "ndpi_1kxun.pcap"),
               PCAP_B=os.path.join(data, "pcap", "ndpi_reddit.pcap"), OUT=out)
    p = subprocess.run([os.environ["FLOWLINE_BIN"], "run", "-v", "--no-progress", os.path.join(HERE, "pipeline.yaml")],
                       env=env, capture_output=True, text=True, timeout=60)
    c = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
         for m in re.finditer(r"^\s+(\S+) \(\S+\):(.*)$", p.stderr, re.M)}
    keys = ("src_addr", "dst_addr", "src_port", "dst_port", "proto", "packets", "bytes")
    rows_csv = sorted(tuple(str(r[k]) for k in keys) for r in csv.DictReader(open(out + ".csv")))
    rows_json = sorted(tuple(str(json.loads(l)[k]) for k in keys) for l in open(out + ".json"))
    decoded = c["a"]["records_out"] + c["b"]["records_out"]
    packets = sum(int(r[5]) for r in rows_csv)
    print(f"exit {p.returncode}; decoded {c['a']['records_out']} + {c['b']['records_out']}; "
          f"{len(rows_csv)} flows in CSV, {len(rows_json)} in JSON, {packets} packets")
    ok = p.returncode == 0 and rows_csv == rows_json and len(rows_csv) > 0 and packets == decoded
    if not ok:
        print("FAIL\n" + p.stderr[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
