#!/usr/bin/env bash
# The main job: a local multi-node weft cluster in network namespaces with pods and real traffic.
# Installs what it needs first. Pass demo options through, e.g. --nodes 4 --backend host-gw.
# --kube [--nodes N]: real Kubernetes nodes (kubelet + containerd) with weft applied from
# manifests/weft.yaml; builds the Kubernetes binaries and images first (cached), holds until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
for arg in "$@"; do
  if [[ $arg == --kube ]]; then bash test/lab/build-kube.sh >/dev/null; fi
done
exec node dist/test/lab/demo.js "$@"
