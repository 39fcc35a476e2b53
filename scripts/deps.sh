#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, and only those that
# are missing.  Usage: scripts/deps.sh [build|demo|test]
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libcmocka-dev libmsgpuck-dev libjansson-dev libsodium-dev
      libuv1-dev libmicrohttpd-dev libcurl4-openssl-dev
      jq iproute2 nftables)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "gossip: missing Debian packages: ${missing[*]}" >&2
    echo "gossip: run as root, or install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "gossip: installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
