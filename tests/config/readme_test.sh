#!/bin/sh
# The README's command block runs as written: every line of the first ```sh
# block that uses `flowline gen`, in order, from a scratch folder that sees
# the repository's conf/ (so nothing is written into the source tree), with
# the built flowline first on PATH. Each line must exit 0, and the run must
# write flows.
set -u
: "${FLOWLINE_BIN:?}" "${FLOWLINE_SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$FLOWLINE_SRC/conf" "$tmp/conf"
awk '/^```sh/ { inblk = 1; blk = ""; next }
     /^```/ && inblk { inblk = 0; if (blk ~ /flowline gen/) { printf "%s", blk; exit } next }
     inblk { blk = blk $0 "\n" }' "$FLOWLINE_SRC/README.md" >"$tmp/lines"
[ -s "$tmp/lines" ] || { echo "FAIL: no README block with flowline gen"; exit 1; }
cd "$tmp" || exit 1
export PATH="$(dirname "$FLOWLINE_BIN"):$PATH"
# conf/examples/enrich-geoip.yaml reads databases (the README says so):
# MaxMind's test ones.
data=${FLOWLINE_TEST_DATA:-${FLOWLINE_TEST_DATA_DEFAULT:-}}
export GEOIP_CITY="$data/mmdb/GeoIP2-City-Test.mmdb" GEOIP_ASN="$data/mmdb/GeoLite2-ASN-Test.mmdb"
fail=0
while IFS= read -r line; do
    if sh -c "$line" >"$tmp/out" 2>&1; then
        echo "ok   $line"
    else
        echo "FAIL $line"; tail -5 "$tmp/out"; fail=1
    fi
done <"$tmp/lines"
rows=$(($(wc -l <flows.csv) - 1))
[ "$rows" -gt 1000 ] && echo "ok   flows.csv has $rows flows" || { echo "FAIL flows.csv: $rows flows"; fail=1; }

# The README's example pipeline (its first ```yaml block) runs as written,
# on a capture.pcap made for it, in a fresh folder.
mkdir "$tmp/example" && cd "$tmp/example" || exit 1
awk '/^```yaml/ { inblk = 1; next } /^```/ && inblk { exit } inblk { print }' \
    "$FLOWLINE_SRC/README.md" >pipeline.yaml
flowline gen --packets 20000 --concurrency 100 --path capture.pcap >/dev/null
if flowline run --no-progress pipeline.yaml && [ "$(head -1 flows.csv)" = \
        "srcaddr,dstaddr,proto,srcp,dstp,packets,size,duration" ] && [ "$(wc -l <flows.csv)" -gt 10 ]; then
    echo "ok   the README's example pipeline runs as written"
else
    echo "FAIL the README's example pipeline"; cat pipeline.yaml; fail=1
fi
exit $fail
