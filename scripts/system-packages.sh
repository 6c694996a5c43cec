#!/usr/bin/env bash
# Installs the Debian packages the tests need, or says exactly what is missing.
# Usage: system-packages.sh PKG... -- BINARY...   (BINARY i proves PKG i is installed)
set -euo pipefail
pkgs=(); bins=(); seen_sep=0
for a in "$@"; do
  if [ "$a" = "--" ]; then seen_sep=1; elif [ $seen_sep = 0 ]; then pkgs+=("$a"); else bins+=("$a"); fi
done
missing=()
for i in "${!pkgs[@]}"; do
  [ -x "${bins[$i]}" ] || missing+=("${pkgs[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for i in "${!pkgs[@]}"; do
    [ -x "${bins[$i]}" ] || { echo "error: ${pkgs[$i]} installed but ${bins[$i]} is missing" >&2; exit 1; }
  done
  exit 0
fi
echo "error: missing Debian packages: ${missing[*]}" >&2
echo "install them as root with: apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
