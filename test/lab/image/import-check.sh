#!/bin/bash
# Imports image tarballs into a private, throw-away containerd (its own root, state, socket and
# config under a temporary directory, inside a private mount namespace with its own /run) the
# way the lab's nodes do (`ctr -n k8s.io images import`), and prints `ctr images ls -q` after.
# containerd is stopped by its PID and the directory removed, also on failure.
#
# Usage: import-check.sh IMAGE_TAR...
set -euo pipefail
(($# > 0)) || { echo "usage: import-check.sh IMAGE_TAR..." >&2; exit 2; }
if [[ ${WEFT_IMPORT_CHECK_INNER:-} != 1 ]]; then
  exec unshare --mount --propagation private env WEFT_IMPORT_CHECK_INNER=1 bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run
dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/c.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
TOML
containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
pid=$!
for _ in $(seq 50); do [[ -S $dir/c.sock ]] && break; sleep 0.2; done
[[ -S $dir/c.sock ]] || { cat "$dir/containerd.log" >&2; echo "import-check: containerd did not start" >&2; exit 1; }
for tar in "$@"; do
  ctr --address "$dir/c.sock" -n k8s.io images import "$tar" >&2
done
ctr --address "$dir/c.sock" -n k8s.io images ls -q
