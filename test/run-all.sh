#!/usr/bin/env bash
# Runs every weft test on this machine: type-check and lint, unit tests, then the integration and
# end-to-end tests against real etcd, kube-apiserver, CNI plugins and the kernel (in namespaces).
# Installs what it needs first. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh || exit 1
[ -x test/lab/build-kube-apiserver.sh ] && { bash test/lab/build-kube-apiserver.sh || exit 1; }

results=$(mktemp -d)
# Namespaces made by this run start with this letter (see runPrefix in test/lab/netns.ts).
tags=abcdefghijklmnopqrstuv
export WEFT_NETNS_TAG=${tags:$((RANDOM % ${#tags})):1}
status=0
echo "== lint"
npx eslint . || status=1

jest() {
  node --experimental-vm-modules node_modules/jest/bin/jest.js --ci "$@"
}
echo "== unit tests"
jest --selectProjects unit --json --outputFile="$results/unit.json" || status=1
echo "== integration and end-to-end tests"
jest --selectProjects integration --runInBand --json --outputFile="$results/integration.json" || status=1

# Namespaces carry a per-run prefix and are removed by each test; report any that survived.
leftover=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${WEFT_NETNS_TAG}[0-9a-z]{2,5}-" || true)
if [ -n "$leftover" ]; then
  echo "leftover namespaces (deleting): $leftover"
  for ns in $leftover; do ip netns delete "$ns" 2>/dev/null; done
  status=1
fi

node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, suitesFailed = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { suitesFailed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; suitesFailed += r.numRuntimeErrorTestSuites;
  }
  if (suitesFailed) console.log(`${suitesFailed} test suites failed to run`);
  console.log(`${passed} passed, ${failed + suitesFailed} failed`);
' "$results/unit.json" "$results/integration.json"
rm -rf "$results"
exit $status
