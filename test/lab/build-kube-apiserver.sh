#!/bin/bash
# Builds kube-apiserver v1.20.2 from Debian's `kubernetes` source package (the full upstream tree with
# vendor/) and caches the static binary outside the repo. Idempotent: when the cached binary exists it
# only prints its path. Runs without stdin; installs its own apt prerequisites when missing.
#
# Usage: test/lab/build-kube-apiserver.sh        (prints the binary path on the last line of stdout)
# Env:   WEFT_KUBE_CACHE   cache directory (default /var/cache/weft)
#        WEFT_KUBE_BUILD   scratch directory for the source tree (default $WEFT_KUBE_CACHE/build)
set -euo pipefail
exec </dev/null

version=v1.20.2
cache_dir=${WEFT_KUBE_CACHE:-/var/cache/weft}
binary=$cache_dir/kube-apiserver-$version
build_dir=${WEFT_KUBE_BUILD:-$cache_dir/build}

log() { echo "[build-kube-apiserver] $*" >&2; }

if [[ -x $binary ]]; then
  log "cached: $binary"
  echo "$binary"
  exit 0
fi

mkdir -p "$cache_dir" "$build_dir"
# One build at a time: a second caller waits for the first and then reuses its binary.
exec 9>"$cache_dir/.kube-apiserver.lock"
log "waiting for build lock"
flock 9
if [[ -x $binary ]]; then
  log "built by another run meanwhile: $binary"
  echo "$binary"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for pkg in golang-1.19-go rsync make dpkg-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing apt prerequisites: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# An apt configuration private to this build: only a deb-src line, with its own lists directory, so the
# host's sources and package lists stay untouched.
apt_dir=$build_dir/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts"
cat >"$apt_dir/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
EOF
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

log "building cmd/kube-apiserver in $src_dir (a few minutes on 2 cores)"
cd "$src_dir"
export PATH=/usr/lib/go-1.19/bin:$PATH
export GOPATH=$build_dir/gopath GOCACHE=$build_dir/gocache
GO111MODULE=off GOPROXY=off CGO_ENABLED=0 KUBE_GIT_VERSION=$version KUBE_GIT_TREE_STATE=clean \
  KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 nice -n 10 make WHAT=cmd/kube-apiserver >&2

built=$(find "$src_dir/_output" -type f -name kube-apiserver -path '*bin*' | head -n1)
[[ -x $built ]] || { log "build finished but no kube-apiserver binary under _output"; exit 1; }
"$built" --version >&2
install -m 0755 "$built" "$binary.tmp"
mv "$binary.tmp" "$binary"
log "cached: $binary"
echo "$binary"
