#!/usr/bin/python3
"""Writes a capture (LINKTYPE_IPV4) of sFlow v5 datagrams for input.sflow's
file throughput: 8 standard flow samples per datagram, each a raw Ethernet
header of up to 128 bytes taken in turn from the frames of a source capture.
  bench/sflow_gen.py SOURCE.pcap OUT.pcap SAMPLES"""
import struct, sys

src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
off, hdrs = 24, []
while off + 16 <= len(data):
    cl, wl = struct.unpack("<II", data[off + 8:off + 16])
    hdrs.append((data[off + 16:off + 16 + min(cl, 128)], wl))
    off += 16 + cl


def sample(seq, h, wl):
    rec = struct.pack("!IIII", 1, wl + 4, 4, len(h)) + h + b"\0" * (-len(h) % 4)
    body = struct.pack("!IIIIIIII", seq, 3, 1, seq, 0, 3, 4, 1) + struct.pack("!II", 1, len(rec)) + rec
    return struct.pack("!II", 1, len(body)) + body


with open(dst, "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 228))
    seq = dseq = 0
    while seq < n:
        body = b""
        for _ in range(8):
            h, wl = hdrs[seq % len(hdrs)]
            seq += 1
            body += sample(seq, h, wl)
        dseq += 1
        dg = struct.pack("!II4sIIII", 5, 1, bytes([10, 0, 0, 1]), 0, dseq, 1000, 8) + body
        fr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(dg), 0, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([127, 0, 0, 1]))
        fr += struct.pack("!HHHH", 5555, 6343, 8 + len(dg), 0) + dg
        out.write(struct.pack("<IIII", dseq, 0, len(fr), len(fr)) + fr)
