#!/usr/bin/env bash
# Installs what weft's demo and tests need on a fresh Debian 12 machine (root, Node 20, apt):
# the Debian packages of the real components, the npm dependencies, then builds dist/.
# Idempotent and quiet when everything is already there; needs no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real components the lab runs (etcd, CNI plugins, containerd + runc for real nodes), the tools the
# lab and the image builder use (mmdebstrap, busybox-static, jq), and Go for the Kubernetes build.
packages=(etcd-server etcd-client containernetworking-plugins iproute2 iputils-ping iperf3 ethtool iptables nftables openssl procps
  containerd runc busybox-static mmdebstrap jq uidmap golang-1.19-go rsync make dpkg-dev gcc libc6-dev
  golang-github-appc-cni-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# etcd-server's package starts a system etcd on 127.0.0.1:2379 where systemd runs; the lab never uses it.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  # `npm ci`: exactly the locked versions, and a lock file out of step with package.json fails here.
  npm ci --no-audit --no-fund </dev/null
fi
# netlink's own build, patched (patches/, applied by postinstall): its prebuilt binary aborts on a
# netlink overflow.
for native in node_modules/raw-socket/build/Release/raw.node node_modules/netlink/build/Release/netlink_binding.node; do
  [ -f "$native" ] || { echo "setup: $native was not built; run 'npm install' (or 'npm run postinstall')" >&2; exit 1; }
done

echo "setup: building"
npm run --silent build
