#!/bin/bash
# Builds the container images the lab's real nodes import, without a registry or a Docker engine,
# each only when its inputs changed (a content hash of them names the cached tarball):
#   weft     the reference manifests/weft.yaml runs, by the recipe the Dockerfile also follows
#            (manifests/image/install-weft.sh): a bookworm layer with iptables + nftables, and a
#            layer with this machine's Node.js and weft (dist/, production node_modules)
#   pause    k8s.gcr.io/pause:3.2, the static pause from test/lab/build-kube.sh
#   agnhost  k8s.gcr.io/e2e-test-images/agnhost:2.21, agnhost from build-kube.sh on bookworm with
#            the tools Kubernetes' e2e suite runs in its pods (curl, nc, ip, dig, ping)
#   busybox  docker.io/library/busybox:1.29, Debian's busybox-static with its applet links
# Expects dist/ already built (`npm run build`; the tests run from it) and the Kubernetes
# binaries from test/lab/build-kube.sh for pause and agnhost.
#
# Usage: build-images.sh [weft|pause|agnhost|busybox ...]     (default: all)
# Prints one line per image on stdout: "<reference> <absolute tarball path>"; progress on stderr.
# Env:   WEFT_IMAGE_CACHE  cache directory (default /var/cache/weft/images)
#        WEFT_KUBE_BIN     Kubernetes binaries (default /var/cache/weft/kube-v1.20.2)
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too
exec </dev/null
umask 022

repo=$(cd "$(dirname "$0")/../../.." && pwd)
here=$repo/test/lab/image
recipe=$repo/manifests/image
cache=${WEFT_IMAGE_CACHE:-/var/cache/weft/images}
kube_bin=${WEFT_KUBE_BIN:-/var/cache/weft/kube-v1.20.2}
node_bin=$(command -v node)
agnhost_packages=curl,netcat-openbsd,iproute2,dnsutils,iputils-ping

log() { echo "[build-images] $(date +%T) $*" >&2; }
fail() { echo "build-images: $*" >&2; exit 1; }

# A short content hash of files (by content) and plain strings (as given).
content_key() {
  local item
  for item; do
    if [[ -f $item ]]; then sha256sum <"$item"; else printf '%s\n' "$item"; fi
  done | sha256sum | cut -c1-20
}
# dist/ as the image gets it (stage-weft.sh leaves the tests out).
dist_digest() {
  (cd "$repo/dist" && find . -type f ! -path './test/*' ! -name '*.test.js' ! -name '*.test.js.map' -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
debian_sources() { bash "$repo/test/lab/debian-sources.sh" deb; }

# Keeps the few most recently used PATH_PREFIX.*.tar: several worktrees may share the cache, each
# with its own weft build, and a tarball just printed to one of them must not vanish under it.
prune_older() {
  local prefix=$1
  # (ls -t is safe here: the names are ours, without spaces or newlines)
  ls -t "$prefix".*.tar | tail -n +5 | xargs -r rm -f --
}

write_image() { bash "$here/write-image.sh" "$@"; }

# A fresh scratch directory for one build, removed on exit.
scratch() { mktemp -d "$work/XXXXXX"; }

# cached_layer NAME KEY BUILDER OUT [ARGS...]: a slow layer that code changes do not touch, kept
# in the cache on its own as layers/NAME.KEY.tar; built by `BUILDER FILE ARGS...` when missing,
# then linked to OUT.
cached_layer() {
  local name=$1 key=$2 builder=$3 out=$4
  shift 4
  local cached=$cache/layers/$name.$key.tar
  if [[ ! -f $cached ]]; then
    log "building layer $name ($key)"
    "$builder" "$cached.part" "$@"
    mv "$cached.part" "$cached"
    prune_older "$cache/layers/$name"
  fi
  touch "$cached"
  ln "$cached" "$out"
}

# Debian base layers: what sets one apart (a recipe file, a package list) comes first in its key.
weft_base_options=(--customize-hook="copy-in $recipe/install-weft.sh /tmp" --customize-hook='chroot "$1" sh /tmp/install-weft.sh packages')
agnhost_base_options=(--include="$agnhost_packages")
debian_key() {
  local sources
  sources=$(debian_sources)
  content_key "$1" "$here/debian-root.sh" "$here/write-image.sh" "$sources"
}
weft_base_key() { debian_key "$recipe/install-weft.sh"; }
agnhost_base_key() { debian_key "$agnhost_packages"; }
# debian_layer OUT MMDEBSTRAP_OPTION...
debian_layer() {
  local out=$1 root
  shift
  root=$(scratch)/root
  bash "$here/debian-root.sh" "$root" "$@"
  write_image --layer "$root" "$out"
}

# Each layer builder writes one layer tar to its first argument.
weft_base_layer() {
  local key
  key=$(weft_base_key)
  cached_layer weft-base "$key" debian_layer "$1" "${weft_base_options[@]}"
}
agnhost_base_layer() {
  local key
  key=$(agnhost_base_key)
  cached_layer agnhost-base "$key" debian_layer "$1" "${agnhost_base_options[@]}"
}
weft_files_layer() {
  local dir
  dir=$(scratch)
  sh "$recipe/stage-weft.sh" "$repo" "$dir/stage" "$node_bin"
  sh "$recipe/install-weft.sh" files "$dir/stage" "$dir/root"
  write_image --layer "$dir/root" "$1"
}
# As upstream's image: /agnhost, /agnhost-2 for the entrypoint tests, /uploads for netexec.
agnhost_files_layer() {
  local root
  root=$(scratch)
  install -m 0755 "$kube_bin/agnhost" "$root/agnhost"
  ln -s agnhost "$root/agnhost-2"
  mkdir "$root/uploads"
  write_image --layer "$root" "$1"
}
pause_layer() {
  local root
  root=$(scratch)
  install -m 0755 "$kube_bin/pause" "$root/pause"
  write_image --layer "$root" "$1"
}
busybox_layer() {
  local root applet
  root=$(scratch)
  mkdir -p "$root"/{bin,etc,root,home,var,usr/sbin} "$root/tmp"
  chmod 1777 "$root/tmp"
  install -m 0755 /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox || -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  write_image --layer "$root" "$1"
}

# image NAME REFERENCE RUN_CONFIG_JSON INPUTS_KEY LAYER_BUILDER...: prints "REFERENCE TARBALL". The
# tarball is named by a hash of everything that goes into it; only when it is missing are its
# layers built (each builder writes one layer tar) and the image written.
image() {
  local name=$1 ref=$2 run_config=$3 inputs_key=$4
  shift 4
  local key out builder layer layers=()
  key=$(content_key "$ref" "$run_config" "$here/write-image.sh" "$inputs_key")
  out=$cache/$name.$key.tar
  if [[ ! -f $out ]]; then
    log "building $ref ($key)"
    for builder; do
      layer=$(scratch)/layer.tar
      "$builder" "$layer" >&2
      layers+=("$layer")
    done
    write_image "$out.part" "$ref" "$run_config" "${layers[@]}"
    mv "$out.part" "$out"
    prune_older "$cache/$name"
    log "built $out ($(du -m "$out" | cut -f1) MB)"
  else
    touch "$out" # recently used: kept by prune_older
    log "cached $out"
  fi
  echo "$ref $out"
}

build_weft() {
  local ref run_config base dist inputs
  ref=$(awk '$1 == "image:" { print $2; exit }' "$repo/manifests/weft.yaml")
  [[ -n $ref ]] || fail "no 'image:' line in manifests/weft.yaml"
  # The entry point and working directory the Dockerfile declares, so the two cannot drift.
  run_config=$(awk '$1 == "ENTRYPOINT" { sub(/^ENTRYPOINT[ \t]+/, ""); e = $0 } $1 == "WORKDIR" { w = $2 }
    END { printf "{\"Entrypoint\": %s, \"WorkingDir\": \"%s\"}", e, w }' "$repo/Dockerfile" | jq -c .) ||
    fail "cannot read ENTRYPOINT (JSON form) and WORKDIR from $repo/Dockerfile"
  base=$(weft_base_key)
  dist=$(dist_digest)
  inputs=$(content_key "$base" "$dist" "$repo/package.json" "$repo/package-lock.json" \
    "$repo/cni/10-weft.conflist" "$node_bin" "$recipe/stage-weft.sh")
  image weft "$ref" "$run_config" "$inputs" weft_base_layer weft_files_layer
}
build_pause() {
  local inputs
  inputs=$(content_key "$kube_bin/pause")
  image pause k8s.gcr.io/pause:3.2 '{"Entrypoint":["/pause"]}' "$inputs" pause_layer
}
build_agnhost() {
  local base inputs
  base=$(agnhost_base_key)
  inputs=$(content_key "$base" "$kube_bin/agnhost")
  image agnhost k8s.gcr.io/e2e-test-images/agnhost:2.21 '{"Entrypoint":["/agnhost"],"Cmd":["pause"]}' "$inputs" \
    agnhost_base_layer agnhost_files_layer
}
build_busybox() {
  local inputs
  inputs=$(content_key /bin/busybox)
  image busybox docker.io/library/busybox:1.29 '{"Cmd":["sh"]}' "$inputs" busybox_layer
}

# Every input is checked before anything is built, so a missing one fails fast and clearly.
check_inputs() {
  local name=$1
  case $name in
    weft)
      [[ -f $repo/dist/bundle/weftd.mjs ]] || fail "$repo/dist/bundle/weftd.mjs missing: run 'npm run build' first"
      [[ -d $repo/node_modules ]] || fail "$repo/node_modules missing: run test/setup.sh (npm install) first" ;;
    pause | agnhost)
      [[ -x $kube_bin/$name ]] || fail "$kube_bin/$name missing: build the Kubernetes binaries with test/lab/build-kube.sh first" ;;
    busybox)
      [[ -x /bin/busybox ]] && /bin/busybox --list | grep -qx sh ||
        fail "/bin/busybox missing or not Debian's static busybox: apt-get install busybox-static" ;;
    *) fail "unknown image '$name' (known: weft pause agnhost busybox)" ;;
  esac
}

# The whole run is one function, read by bash before it starts: editing this file meanwhile is safe.
main() {
  local name tool names=("$@")
  ((${#names[@]})) || names=(weft pause agnhost busybox)
  for name in "${names[@]}"; do check_inputs "$name"; done
  for tool in mmdebstrap jq; do command -v "$tool" >/dev/null || fail "$tool missing: run test/setup.sh"; done

  mkdir -p "$cache/layers"
  # One build at a time; a second caller waits and then finds the tarballs cached.
  exec 9>"$cache/.lock"
  flock 9
  work=$(mktemp -d "$cache/.work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM # so the EXIT trap runs
  for name in "${names[@]}"; do "build_$name"; done
  log "done"
}
main "$@"; exit
