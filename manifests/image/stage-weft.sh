#!/bin/sh
# Step 1 of weft's image recipe (the Dockerfile's build stage and test/lab/image/build-images.sh
# both run it): from a built weft tree (npm install + npm run build done) gathers into STAGE exactly what
# install-weft.sh installs: the Node.js binary, package.json, dist/ without the tests, the
# conflist, production node_modules (native modules already built for this same Node) and the
# recipe itself.
#
# Usage: stage-weft.sh SRC_DIR STAGE_DIR [NODE_BINARY]   (NODE_BINARY defaults to `command -v node`)
set -eu
src=${1:?usage: stage-weft.sh SRC_DIR STAGE_DIR [NODE_BINARY]}
stage=${2:?usage: stage-weft.sh SRC_DIR STAGE_DIR [NODE_BINARY]}
node_bin=${3:-$(command -v node)}
here=$(cd "$(dirname "$0")" && pwd)

for built in dist/bundle/weftd.mjs dist/bundle/weftd-main.cjs dist/build/code-cache.js dist/cmd/weft-cni-install.js dist/plugin/weft-cni.cjs; do
  [ -f "$src/$built" ] || { echo "stage-weft: $src/$built missing: run 'npm run build' in $src first" >&2; exit 1; }
done
[ -d "$src/node_modules" ] || { echo "stage-weft: $src/node_modules missing: run 'npm install' in $src first" >&2; exit 1; }

mkdir -p "$stage/cni"
cp "$src/package.json" "$src/package-lock.json" "$stage/"
cp "$src/cni/10-weft.conflist" "$stage/cni/"
tar -C "$src" --exclude=dist/test --exclude='*.test.js' --exclude='*.test.js.map' -cf - dist | tar -C "$stage" -xf -
# A real copy (not hard links: the source tree's node_modules may itself be hard-linked), then
# only the dependencies the daemon needs at run time.
cp -a "$src/node_modules" "$stage/"
(cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >&2)
# Type declarations, source maps and docs are never loaded at run time: about half of node_modules.
find "$stage/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete
find "$stage/node_modules" -type d -empty -delete
cp "$node_bin" "$stage/node"
cp "$here/install-weft.sh" "$stage/"
