#!/bin/sh
# Benchmark: output.influx. Records/s and CPU into a local HTTP sink that
# only drains (flowline's own encode + send rate, gzip off and on) and into
# a real influxd 1.6 started here (points/s the server takes), against the
# same pipeline with no output. Not part of ctest.
#
#   bench/influx.sh [PACKETS] [FLOWS]     (defaults: 4000000 packets, 1000000 flows;
#                                        ONLY=influxd: just the influxd run)
set -eu
cd "$(dirname "$0")/.."
[ -x build/flowline ] || { echo "build first: cmake --build build" >&2; exit 1; }
command -v influxd >/dev/null || { echo "missing influxd: contrib/install-deps.sh" >&2; exit 1; }
exec /usr/bin/python3 bench/influx_bench.py "$@"
