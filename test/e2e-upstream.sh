#!/usr/bin/env bash
# Kubernetes' own longer network e2e suites against a real weft cluster (opt-in, not in CI's run):
#   bash test/e2e-upstream.sh [regular|services|netpol|dualstack ...] [--focus REGEX]   (default: services netpol)
# `services` is [sig-network] Networking Granular Checks: Services (~12 min); `netpol` is the 29
# [sig-network] NetworkPolicy tests (~45-55 min: each test waits out its denied connections);
# `dualstack` is [Feature:IPv6DualStackAlphaFeature] on a dual-stack cluster with EnableIPv6.
# JUnit reports go to test/results/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
bash test/lab/build-kube.sh >/dev/null
exec node dist/test/lab/upstream-e2e-cli.js "$@"
