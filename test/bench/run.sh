#!/usr/bin/env bash
# weft's benchmarks (not part of the test suite): installs what it needs, then measures.
# --smoke: tiny sizes, a few minutes; --long: the 10-minute leak check; --sections startup,churn,... Results: test/bench/results/report.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/setup.sh
npm run build
exec node dist/test/bench/run.js "$@" </dev/null
