#!/bin/sh
# Runs one integration scenario: tests/integration/<name>/check.* with the
# shared data dir and a temp dir that is removed afterwards, pass or fail.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=$1
data=${FLOWLINE_TEST_DATA:-${FLOWLINE_TEST_DATA_DEFAULT:-}}
if [ ! -d "$data/pcap" ]; then
    echo "test data not found: looked in '$data' (set FLOWLINE_TEST_DATA to ../shared/data)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -x "$here/$name/check.py" ]; then
    /usr/bin/python3 "$here/$name/check.py" "$data" "$tmp"
else
    sh "$here/$name/check.sh" "$data" "$tmp"
fi
