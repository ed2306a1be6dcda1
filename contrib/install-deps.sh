#!/bin/sh
# Installs what flowline needs to build, test and benchmark on Debian 12.
# Idempotent and quiet: packages already present are not fetched again.
# The Debian package (tests/install) needs dpkg-dev (dpkg-shlibdeps) and
# file (CPack finds the ELF files with it); groff-base, bash-completion and
# systemd (systemd-analyze) let its test render the man pages, exercise the
# completion and verify the unit instead of skipping those steps.
set -eu
pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
      libyaml-dev libpcap-dev libzmq3-dev libcmocka-dev zlib1g-dev libfixbuf-dev
      libmaxminddb-dev mmdb-bin librdkafka-dev libcurl4-openssl-dev
      influxdb kcat python3-cassandra
      python3 tshark softflowd nfdump nfdump-sflow pmacct time bc
      dpkg-dev file groff-base bash-completion systemd"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
