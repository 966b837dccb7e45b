#!/usr/bin/env bash
# weft's benchmarks (not part of the test suite): installs what it needs, then measures.
# --smoke: tiny sizes, about a minute. Results: test/bench/results/report.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/setup.sh
exec node dist/test/bench/run.js "$@" </dev/null
