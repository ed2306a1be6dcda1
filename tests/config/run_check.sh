#!/bin/sh
# run_check.sh: one config test, run as a user would run `flowline check`.
#
#   run_check.sh FILE            FILE must pass: exit 0, "FILE: ok" on stdout,
#                                nothing on stderr
#   run_check.sh FILE EXPECTED   FILE must fail: exit non-zero and stderr equal
#                                to EXPECTED byte for byte
#   run_check.sh --examples      every conf/examples/*.yaml must pass
#
# Runs from this directory so messages name bad/x.yaml:L:C, as in the .err
# files. Needs FLOWLINE_BIN (set by tests/CMakeLists.txt).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${FLOWLINE_BIN:?FLOWLINE_BIN is not set}"
unset FLOWLINE_TEST_UNSET_VAR FLOWLINE_TEST_PACKETS FLOWLINE_TEST_OUT_DIR
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

pass() {    # pass FILE: in the current directory
    "$FLOWLINE_BIN" check "$1" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || [ "$(cat "$tmp/out")" != "$1: ok" ]; then
        echo "FAIL: $1 should pass check (exit $rc)"
        cat "$tmp/out" "$tmp/err"
        return 1
    fi
    echo "ok: $1"
}

if [ "$1" = "--examples" ]; then
    cd "$here/../.." || exit 1
    # The files the examples read must exist and what they write must not.
    : >"$tmp/capture.pcap"
    export PCAP="$tmp/capture.pcap" REPLAY="$tmp" OUT="$tmp/written-by-example"
    # enrich-geoip.yaml reads databases: the MaxMind test ones.
    data=${FLOWLINE_TEST_DATA:-${FLOWLINE_TEST_DATA_DEFAULT:-}}
    export GEOIP_CITY="$data/mmdb/GeoIP2-City-Test.mmdb" GEOIP_ASN="$data/mmdb/GeoLite2-ASN-Test.mmdb"
    bad=0
    for f in conf/examples/*.yaml; do
        [ -e "$f" ] || continue
        pass "$f" || bad=1
    done
    exit $bad
fi

cd "$here" || exit 1
if [ $# -eq 1 ]; then
    pass "$1"
    exit $?
fi
"$FLOWLINE_BIN" check "$1" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then
    echo "FAIL: $1 passed check; expected:"
    cat "$2"
    exit 1
fi
if ! diff -u "$2" "$tmp/err"; then
    echo "FAIL: $1: stderr differs from $2 (- expected, + actual)"
    exit 1
fi
echo "ok: $1 fails as expected (exit $rc)"
