#!/bin/sh
# Weft's image recipe, the only description of what the image holds; the Dockerfile and
# test/lab/image/build-images.sh both run it, in two phases (two image layers, so a code change
# rebuilds only the second):
#   install-weft.sh packages
#       as root inside a Debian bookworm root (debian:bookworm-slim in the Dockerfile, a chroot
#       that mmdebstrap made in the lab): iptables and nftables, which weftd uses for the
#       masquerade and forward rules (routes go over rtnetlink, so no iproute2).
#   install-weft.sh files STAGE_DIR [ROOT]
#       from STAGE_DIR (made by stage-weft.sh): Node.js as ROOT/usr/local/bin/node and weft under
#       ROOT/opt/weft, whose daemon gets V8's code cache made by that same Node (a cache from another
#       Node build is refused at start, which then compiles). ROOT defaults to /, where the result is
#       also run once as a check.
set -eu
usage="usage: install-weft.sh packages | install-weft.sh files STAGE_DIR [ROOT]"

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  # Keep documentation, man pages and translations out, as debian:*-slim does.
  cat >/etc/dpkg/dpkg.cfg.d/weft-slim <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
CFG
  apt-get update -q
  apt-get install -y -q --no-install-recommends iptables nftables
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt/* /var/log/dpkg.log
}

install_files() {
  stage=$1 root=$2
  install -D -m 0755 "$stage/node" "$root/usr/local/bin/node"
  mkdir -p "$root/opt/weft/cni"
  cp -a "$stage/package.json" "$stage/dist" "$stage/node_modules" "$root/opt/weft/"
  cp "$stage/cni/10-weft.conflist" "$root/opt/weft/cni/"
  # The Node that ships (ROOT may be a directory to chroot into later: run the staged copy).
  "$stage/node" "$root/opt/weft/dist/build/code-cache.js" "$root/opt/weft/dist/bundle/weftd-main.cjs"
  # In a full root, fail the build when Node, the daemon's bundle or a native module does not load.
  if [ "$root" = / ]; then
    node /opt/weft/dist/bundle/weftd.mjs --version >/dev/null
    (cd /opt/weft && node -e "require('netlink'); require('raw-socket')")
  fi
}

case ${1:-} in
  packages) install_packages ;;
  files) install_files "${2:?$usage}" "${3:-/}" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
