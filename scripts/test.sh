#!/usr/bin/env bash
# The whole test suite: type check, bundle, unit + integration + VM tests.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
npm run build --silent
npx vitest run "$@"
