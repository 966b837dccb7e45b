#!/bin/bash
# Builds the Kubernetes v1.20.2 binaries the lab runs (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl), Kubernetes' own e2e suite (e2e.test, ginkgo), its
# test server agnhost and the static pause binary, all from Debian's `kubernetes` source package
# (the full upstream tree with vendor/), and caches them outside the repo. Idempotent: when every
# cached binary exists it only prints the directory. Runs without stdin; installs its own apt
# prerequisites. The deb-src line comes from this machine's own apt sources (no mirror is named here).
#
# Usage: test/lab/build-kube.sh      (prints the binary directory on the last line of stdout)
# Env:   WEFT_KUBE_CACHE   cache directory (default /var/cache/weft)
#        WEFT_KUBE_BUILD   scratch directory for the source tree and Go cache (default $WEFT_KUBE_CACHE/build)
set -euo pipefail
exec </dev/null

version=v1.20.2
cache_dir=${WEFT_KUBE_CACHE:-/var/cache/weft}
bin_dir=$cache_dir/kube-$version
build_dir=${WEFT_KUBE_BUILD:-$cache_dir/build}
targets=(cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet cmd/kube-proxy
  cmd/kubectl test/e2e/e2e.test vendor/github.com/onsi/ginkgo/ginkgo test/images/agnhost)
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl e2e.test ginkgo agnhost pause)

log() { echo "[build-kube] $(date +%T) $*" >&2; }
all_cached() { for b in "${binaries[@]}"; do [[ -x $bin_dir/$b ]] || return 1; done; }

if all_cached; then
  log "cached: $bin_dir"
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache_dir" "$build_dir" "$bin_dir"
# One build at a time: a second caller waits for the first and then reuses its binaries.
exec 9>"$cache_dir/.kube-build.lock"
log "waiting for build lock"
flock 9
if all_cached; then
  log "built by another run meanwhile: $bin_dir"
  echo "$bin_dir"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for pkg in golang-1.19-go rsync make dpkg-dev gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing apt prerequisites: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# An apt configuration private to this build: deb-src entries made from this machine's own Debian
# sources, with their own lists directory, so the host's sources and package lists stay untouched.
apt_dir=$build_dir/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts"
bash "$(dirname "$0")/debian-sources.sh" deb-src >"$apt_dir/parts/debian-src.sources"
: >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/parts"
  -o "Dir::State::Lists=$apt_dir/lists"
)

src_dir=$(find "$build_dir" -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
if [[ -z $src_dir || ! -f $src_dir/.weft-extracted ]]; then
  cd "$build_dir"
  if ! ls kubernetes_*.dsc >/dev/null 2>&1; then
    log "fetching deb-src index"
    apt-get "${apt_opts[@]}" update -q
    log "downloading kubernetes source package"
    apt-get "${apt_opts[@]}" source --download-only kubernetes
  fi
  [[ -n $src_dir ]] && rm -rf "$src_dir"
  dsc=$(ls kubernetes_*.dsc | head -n1)
  log "extracting $dsc"
  dpkg-source --no-check -x "$dsc" >&2
  src_dir=$(find "$build_dir" -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  touch "$src_dir/.weft-extracted"
fi

log "building ${targets[*]} in $src_dir (~10 min cold on 2 cores)"
cd "$src_dir"
export PATH=/usr/lib/go-1.19/bin:$PATH
export GOPATH=$build_dir/gopath GOCACHE=$build_dir/gocache
GO111MODULE=off GOPROXY=off CGO_ENABLED=0 KUBE_GIT_VERSION=$version KUBE_GIT_TREE_STATE=clean \
  KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 make WHAT="${targets[*]}" >&2

out=$(dirname "$(find "$src_dir/_output" -type f -name kube-apiserver -path '*bin*' | head -n1)")
for b in "${binaries[@]}"; do
  [[ $b == pause ]] && continue
  [[ -x $out/$b ]] || { log "build finished but $out/$b is missing"; exit 1; }
  install -m 0755 "$out/$b" "$bin_dir/$b.tmp" && mv "$bin_dir/$b.tmp" "$bin_dir/$b"
done
# The pod sandbox's pause process: Kubernetes' own C source, linked statically.
gcc -Os -static -DVERSION=3.2 -o "$bin_dir/pause.tmp" build/pause/linux/pause.c && mv "$bin_dir/pause.tmp" "$bin_dir/pause"
"$bin_dir/kube-apiserver" --version >&2
log "cached: $bin_dir"
echo "$bin_dir"
