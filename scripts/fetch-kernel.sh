#!/usr/bin/env bash
# Fetch a Debian kernel package without root and unpack it: prints the directory that
# holds vmlinuz and lib/modules. Usage: fetch-kernel.sh [META_PACKAGE] [CACHE_DIR]
# META_PACKAGE defaults to linux-image-cloud-amd64; its current version is resolved
# with apt-cache because the ABI number changes with every kernel update.
set -euo pipefail
meta=${1:-linux-image-cloud-amd64}
cache=${2:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/kernel"}
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  echo "fetch-kernel: cannot resolve $meta; run 'apt-get update' first" >&2
  exit 4
fi
dir="$cache/$pkg"
if [ ! -f "$dir/vmlinuz" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt downloads as the _apt user when it can
  (cd "$tmp" && apt-get download "$pkg" >/dev/null)
  mkdir -p "$dir.tmp"
  dpkg-deb -x "$tmp"/*.deb "$dir.tmp"
  cp "$dir.tmp"/boot/vmlinuz-* "$dir.tmp/vmlinuz"
  rm -rf "$tmp" "$dir"
  mv "$dir.tmp" "$dir"
fi
echo "$dir"
