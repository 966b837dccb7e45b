#!/bin/bash
# Writes a container image in `docker save` format (what `ctr images import` and `docker load`
# read): one tar per layer, the image config JSON named by its sha256, manifest.json and
# repositories. Layers are uncompressed, so each layer's diff_id is the sha256 of its tar.
#
# Usage: write-image.sh OUT_TAR REFERENCE CONFIG_JSON LAYER_TAR...
#   REFERENCE    e.g. k8s.gcr.io/pause:3.2
#   CONFIG_JSON  the image's run settings, e.g. '{"Entrypoint":["/pause"]}' (Env defaults to the
#                usual PATH)
# Usage: write-image.sh --layer DIR OUT_TAR    tars DIR's contents as a layer (numeric owners,
#                sorted, file capabilities kept)
set -euo pipefail

if [[ ${1:-} == --layer ]]; then
  dir=${2:?write-image.sh --layer DIR OUT_TAR} out=${3:?write-image.sh --layer DIR OUT_TAR}
  mapfile -t top < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%P\n' | sort)
  tar --create --file="$out" --directory="$dir" --numeric-owner --sort=name --format=posix \
    --pax-option=delete=atime,delete=ctime --xattrs --xattrs-include=security.capability -- "${top[@]}"
  exit 0
fi

out=${1:?usage: write-image.sh OUT_TAR REFERENCE CONFIG_JSON LAYER_TAR...}
ref=${2:?reference missing}
run_config=${3:?config JSON missing}
shift 3
(($# > 0)) || { echo "write-image: no layer given" >&2; exit 2; }
name=${ref%:*} tag=${ref##*:}
[[ $name != "$ref" && $tag != */* ]] || { echo "write-image: reference '$ref' needs an explicit :tag" >&2; exit 2; }

work=$(mktemp -d "$(dirname "$out")/.write-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
sha() { sha256sum "$1" | cut -d' ' -f1; }

diff_ids=() layer_paths=()
for layer in "$@"; do
  digest=$(sha "$layer")
  mkdir -p "$work/$digest"
  # A hard link when the cache and the output share a file system: no copy of a large layer.
  ln "$layer" "$work/$digest/layer.tar" 2>/dev/null || cp "$layer" "$work/$digest/layer.tar"
  diff_ids+=("sha256:$digest") layer_paths+=("$digest/layer.tar")
done

arch=$(dpkg --print-architecture)
jq -n --argjson run "$run_config" --arg arch "$arch" --args '{
    architecture: $arch, os: "linux", created: "1970-01-01T00:00:00Z",
    config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]} + $run),
    rootfs: {type: "layers", diff_ids: $ARGS.positional},
    history: [$ARGS.positional[] | {created: "1970-01-01T00:00:00Z", created_by: "weft test/lab/image"}]
  }' "${diff_ids[@]}" | jq -c . >"$work/config.json"
config_digest=$(sha "$work/config.json")
mv "$work/config.json" "$work/$config_digest.json"
jq -n -c --arg config "$config_digest.json" --arg ref "$ref" --args \
  '[{Config: $config, RepoTags: [$ref], Layers: $ARGS.positional}]' "${layer_paths[@]}" >"$work/manifest.json"
last=${layer_paths[-1]%/layer.tar}
jq -n -c --arg name "$name" --arg tag "$tag" --arg id "$last" '{($name): {($tag): $id}}' >"$work/repositories"

tar --create --file="$out.part" --directory="$work" --numeric-owner --format=posix \
  --pax-option=delete=atime,delete=ctime manifest.json repositories "$config_digest.json" "${layer_paths[@]}"
mv "$out.part" "$out"
