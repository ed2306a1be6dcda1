#!/bin/sh
# Installs what flowline needs to build, test and benchmark on Debian 12.
# Idempotent and quiet: packages already present are not fetched again.
set -eu
pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
      libyaml-dev libpcap-dev libzmq3-dev libcmocka-dev zlib1g-dev libfixbuf-dev
      python3 tshark softflowd nfdump time bc"
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
