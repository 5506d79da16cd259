#!/usr/bin/env bash
# Print anemos' figures. Needs "npm run build"; the VM parts build the base initramfs if
# needed. The end-to-end phase timings come from the last e2e run (npm test or demo).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "## compose and CLI start"
npx vite-node bench/compose.ts
echo "## deploy environment"
npx vite-node bench/deploy-env.ts
echo "## end-to-end deploy phases (from the last run of test/e2e/deploy.test.ts, seconds)"
if [ -f .cache/e2e/timings.json ]; then cat .cache/e2e/timings.json; else echo "(none yet: run npm test or scripts/demo.sh)"; fi
