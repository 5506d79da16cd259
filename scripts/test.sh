#!/usr/bin/env bash
# The whole test suite: type check, bundle, unit + integration + VM tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The VM tests write sparse disk images and cache root filesystems under .cache: stop now,
# with the figures, rather than with ENOSPC twenty minutes in. Peak use measured on a clean
# clone: 2.0 GiB of scratch, 2.0 GiB of .cache (docs/design.md, "Development").
scratch=${TMPDIR:-/tmp}
need_scratch_mib=${ANEMOS_TEST_SCRATCH_MIB:-4096}
have_cache_mib=$(du -sm .cache 2>/dev/null | cut -f1 || true)
need_cache_mib=$(( 3072 - ${have_cache_mib:-0} )) # what a clean clone's .cache grows to
[ "$need_cache_mib" -ge 256 ] || need_cache_mib=256
free_mib() { df -Pm "$1" | awk 'NR == 2 {print $4}'; }
if [ "$(stat -c %d "$scratch")" = "$(stat -c %d .)" ]; then
  checks=("$scratch:$((need_scratch_mib + need_cache_mib))")
else
  checks=("$scratch:$need_scratch_mib" ".:$need_cache_mib")
fi
for c in "${checks[@]}"; do
  dir=${c%:*} need=${c##*:} have=$(free_mib "${c%:*}")
  if [ "$have" -lt "$need" ]; then
    echo "npm test: the tests need about $need MiB free on the file system of $(realpath "$dir"), and it has $have MiB." >&2
    echo "Free space there (df -h $dir; earlier runs' leftovers: ls -d ${scratch}/anemos-test-run-*), or set TMPDIR to a file system with room." >&2
    exit 4
  fi
done

npx tsc -p .
npm run --silent layers
npm run build --silent
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi

# The IMGBUILD e2e is one VM running debootstrap for about 20 minutes; everything else
# takes about as long again, mostly one VM at a time. The machine has two cores, so the
# two halves run side by side: two vitest processes, each with its own scratch directory.
# (What both need, the base initramfs and the root filesystems, is built once, under a lock
# of its own.) The --host e2e (a stock provider VM driven from here), the bonded uplink and
# the kexec live boot go with the IMGBUILD to even the halves; the live layers' builds (the
# image-build integration, mmdebstrap as nobody) went to the other half once the two live
# boots made this one the longer (last CI: 3471 s and 3651 s). The two layers the kexec and
# the network live boots run are built once, by whichever half asks first (the network-boot
# e2e asks as it starts: test/helpers/e2e-images.ts, liveImages).
second=(test/e2e/imgbuild.test.ts test/e2e/remote.test.ts test/e2e/bonded-uplink.test.ts test/e2e/live-boot.test.ts)
imgbuild_log=$(mktemp)
npx vitest run "${second[@]}" >"$imgbuild_log" 2>&1 &
imgbuild_pid=$!
# Interrupted (Ctrl-C, a CI timeout): the IMGBUILD half stops too.
trap 'kill "$imgbuild_pid" 2>/dev/null || true; rm -f "$imgbuild_log"' EXIT
rest=0 imgbuild=0
npx vitest run "${second[@]/#/--exclude=}" || rest=$?
echo "npm test: waiting for the IMGBUILD and --host e2e (started alongside; their output follows)"
wait "$imgbuild_pid" || imgbuild=$?
cat "$imgbuild_log"
echo "npm test: the rest exited $rest, the IMGBUILD and --host e2e exited $imgbuild"
[ "$rest" = 0 ] && [ "$imgbuild" = 0 ]
