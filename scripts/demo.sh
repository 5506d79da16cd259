#!/usr/bin/env bash
# The demo: on a fresh Debian 12 machine (root), install what anemos needs, build it,
# then let a Debian 12 VM with a static address re-image itself into Debian 13 with
# "anemos deploy", printing each phase and its duration. It is the end-to-end test
# (test/e2e/deploy.test.ts) run on its own, with its timings shown at the end.
# What "anemos deploy" prints on the provider is shown as it happened (lines with "|").
# Expected time on a two-core machine under TCG, measured 2026-11-23: about 20 minutes on a
# first run (the base initramfs and two Debian root filesystems are built first; the five
# deploy cases then took 887 s), about 15 minutes after that.
# --imgbuild also builds Debian from payloads/debian (an IMGBUILD) on a blank disk inside
# the deploy environment: debootstrap from Debian's mirror, about 23 more minutes (1373 s
# measured for the build alone).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
echo "== setup (apt packages, npm dependencies, Node 18, Debian kernel)"
bash scripts/setup.sh
echo "== build (dist/anemos.cjs, dist/agent.mjs)"
npm run build --silent
echo "== deploy demo in QEMU (about 15 minutes; a first run builds the base initramfs and two Debian root filesystems before it: a few minutes more)"
ANEMOS_E2E_VERBOSE=1 npx vitest run test/e2e/deploy.test.ts --reporter=verbose
echo "== phase timings (seconds)"
cat .cache/e2e/timings.json
if [ "${1:-}" = --imgbuild ]; then
  echo "== IMGBUILD demo: payloads/debian on a blank disk, then the disk boots on its own"
  ANEMOS_E2E_VERBOSE=1 npx vitest run test/e2e/imgbuild.test.ts --reporter=verbose
  cat .cache/e2e/imgbuild-timings.json
fi
echo "== done in $(( $(date +%s) - t0 )) s; the serial console logs are kept under .cache/test-logs/ (the path is printed above)"
