#!/usr/bin/env bash
# Runs every weft test on this machine: type-check and lint, unit tests, then the integration and
# end-to-end tests against real etcd, kube-apiserver, CNI plugins and the kernel (in namespaces).
# Installs what it needs first. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh || exit 1
bash test/lab/build-kube.sh >/dev/null || exit 1

results=$(mktemp -d)
# Every namespace this run creates is recorded here by exact name (test/lab/netns.ts); at the end,
# also after Ctrl-C, the runner deletes those that a test left behind, and nothing else.
export WEFT_NETNS_REGISTRY=$results/netns.list
: >"$WEFT_NETNS_REGISTRY"
status=0
delete_leftovers() {
  local left=()
  while read -r ns; do
    [ -n "$ns" ] && ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$ns" && left+=("$ns")
  done < <(sort -u "$WEFT_NETNS_REGISTRY" 2>/dev/null)
  if [ ${#left[@]} -gt 0 ]; then
    echo "leftover namespaces of this run (deleting): ${left[*]}"
    for ns in "${left[@]}"; do ip netns delete "$ns" 2>/dev/null; done
    return 1
  fi
}
trap 'delete_leftovers; rm -rf "$results"; exit 130' INT TERM
echo "== lint"
npx eslint . || status=1

jest() {
  node --experimental-vm-modules node_modules/jest/bin/jest.js --ci "$@"
}
echo "== unit tests"
jest --selectProjects unit --json --outputFile="$results/unit.json" || status=1
echo "== integration and end-to-end tests"
jest --selectProjects integration --runInBand --json --outputFile="$results/integration.json" || status=1

delete_leftovers || status=1

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
