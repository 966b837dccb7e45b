#!/bin/bash
# Prints this machine's Debian apt sources (deb822) with Types set to $1 ("deb" or "deb-src"), so
# builds that need a Debian mirror (the kubernetes source package, mmdebstrap) use the mirror the
# machine already uses. Only Debian's own archive entries (signed by debian-archive-keyring) for the
# release suite, not -updates/-security, which carry no kubernetes source.
set -euo pipefail
type=${1:-deb}
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
emit() { printf 'Types: %s\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' "$type" "$1" "$codename"; }
found=0
# deb822 files
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] || continue
  while read -r uri; do emit "$uri"; found=1; done < <(awk -v RS='' -v cn="$codename" '
    /debian-archive-keyring|[Dd]ebian/ && $0 ~ ("Suites:[^\n]*[ \t]" cn "([ \t\n]|$)") {
      if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u }
    }' "$f")
done
# one-line files
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f $f ]] || continue
  while read -r uri; do emit "$uri"; found=1; done < <(awk -v cn="$codename" '
    $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == cn) print $i }' "$f")
done
if ((found == 0)); then
  echo "debian-sources: no Debian '$codename' entry in /etc/apt/sources.list{,.d}; add one or set up apt first" >&2
  exit 1
fi
