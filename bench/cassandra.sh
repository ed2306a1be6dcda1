#!/bin/sh
# Benchmark: output.cassandra (CQL v4) into the test server of
# tests/integration/130-cassandra, in full and as a sink, EXECUTE per row and
# unlogged BATCHes: rows/s, flowline's CPU per 1 M rows (and output.cassandra's
# share over a pcap -> flowmeter -> CSV baseline), the server's CPU. Not part
# of ctest. See bench/cassandra.py.
#
#   bench/cassandra.sh [FLOWS]      (default 200000 flow records)
set -eu
cd "$(dirname "$0")/.."
[ -x build/flowline ] || { echo "build first: cmake --build build" >&2; exit 1; }
/usr/bin/python3 -c 'import cassandra.protocol' 2>/dev/null ||
    { echo "missing python3-cassandra: contrib/install-deps.sh" >&2; exit 1; }
exec /usr/bin/python3 bench/cassandra.py "$@"
