#!/usr/bin/env bash
# Fetch QuickJS (qjs) and the C library it needs from Debian 13, without root, and unpack
# them: prints the directory. The deploy environment's agent runs on this qjs; the base
# build (initramfs/build.sh) and the tests (which run the agent's runtime module under the
# real qjs) take it from here. Debian 13's qjs needs glibc 2.38; Debian 12 has 2.36, so
# the base takes libc6 from Debian 13 as well (backward compatible with Debian 12's tools).
#
#   fetch-quickjs.sh [CACHE_DIR]      -> CACHE_DIR/trixie-N (usr/bin/qjs, lib64/ld-linux..., usr/lib/...)
#   $dir/qjs ARGS...                  runs that qjs with that loader and libc on any host
set -euo pipefail
cache=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/quickjs"}
PACKAGES=(quickjs libc6)
dir="$cache/trixie-1"
if [ ! -x "$dir/qjs" ]; then
  apt="$cache/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  echo 'deb http://deb.debian.org/debian trixie main' > "$apt/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update >"$cache/apt.log" 2>&1 || { echo "fetch-quickjs: apt-get update of Debian 13 failed: $(tail -3 "$cache/apt.log")" >&2; exit 5; }
  (cd "$apt/debs" && rm -f ./*.deb && apt-get "${opts[@]}" download "${PACKAGES[@]}" >>"$cache/apt.log" 2>&1) || {
    echo "fetch-quickjs: apt-get download ${PACKAGES[*]} from Debian 13 failed: $(tail -3 "$cache/apt.log")" >&2; exit 5; }
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  for deb in "$apt/debs"/*.deb; do dpkg-deb -x "$deb" "$dir.tmp"; done
  for p in "${PACKAGES[@]}"; do dpkg-deb -f "$apt/debs/${p}_"*.deb Version | sed "s/^/$p /"; done > "$dir.tmp/VERSIONS"
  # The same binary on any host: Debian 13's loader and libc, whatever the host has.
  cat > "$dir.tmp/qjs" <<'SH'
#!/bin/sh
d=$(cd "$(dirname "$0")" && pwd)
exec "$d/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$d/usr/lib/x86_64-linux-gnu" "$d/usr/bin/qjs" "$@"
SH
  chmod 755 "$dir.tmp/qjs"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
