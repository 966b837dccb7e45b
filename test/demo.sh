#!/usr/bin/env bash
# The main job: a local multi-node weft cluster in network namespaces with pods and real traffic.
# Installs what it needs first. Pass demo options through, e.g. --nodes 4 --backend host-gw.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
exec node dist/test/lab/demo.js "$@"
