#!/bin/bash
# Makes a Debian root directory like debian:bookworm-slim (minbase, no docs, man pages or
# translations) with mmdebstrap, from this machine's own Debian mirror (test/lab/debian-sources.sh;
# no mirror address is written in the repository). Extra mmdebstrap options (--include,
# --customize-hook ...) shape it into an image's root. mmdebstrap's unshare mode keeps its mounts
# (/proc, /dev in the chroot) in a mount namespace of its own. The build machine's resolv.conf and
# hostname, which mmdebstrap copies in for the build, are emptied at the end (runtimes mount their own).
#
# Usage: debian-root.sh TARGET_DIR [MMDEBSTRAP_OPTION...]
set -euo pipefail
target=${1:?usage: debian-root.sh TARGET_DIR [MMDEBSTRAP_OPTION...]}
shift
here=$(cd "$(dirname "$0")" && pwd)

sources_dir=$(mktemp -d)
trap 'rm -rf "$sources_dir"' EXIT
sources=$sources_dir/debian.sources # the name it keeps in the image's /etc/apt/sources.list.d
bash "$here/../debian-sources.sh" deb >"$sources"
suite=$(awk '/^Suites:/ { print $2; exit }' "$sources")

slim=()
for rule in 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' 'path-exclude=/usr/share/man/*' \
  'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' 'path-include=/usr/share/locale/locale.alias'; do
  slim+=("--dpkgopt=$rule")
done

mkdir -p "$target"
# Debian's own tools first: mmdebstrap runs mmtarfilter (`#!/usr/bin/env python3`) once per package,
# and a python3 shim earlier in PATH (pyenv) costs seconds per call on a busy machine.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --mode=unshare --variant=minbase \
  --format=directory --quiet "${slim[@]}" "$@" --customize-hook=': >"$1/etc/resolv.conf" && : >"$1/etc/hostname"' "$suite" "$target" "$sources"
