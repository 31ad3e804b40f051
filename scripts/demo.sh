#!/usr/bin/env bash
# The main job: prepare everything, classify the built-in sample posts under the built-in sample
# policy with the default model (natively, printing each verdict with its action and reason),
# then build the npm package and serve the demo page on localhost (Ctrl-C stops it): a
# timeline filtered live and, with ../shared/data, a Cranfield rank-fusion tab.
# `scripts/demo.sh --no-serve` stops after the native run.
set -euo pipefail
cd "$(dirname "$0")/.."
serve=yes
if [ "${1:-}" = "--no-serve" ]; then
  serve=no
  shift
fi
scripts/setup.sh
cargo run --quiet --release -p tamis-cli -- classify "$@"
[ "$serve" = yes ] || exit 0
# The fusion tab's retriever lists, where the Cranfield collection is there.
if [ -d ../shared/data/ir/cranfield ]; then
  cargo run --quiet --release -p tamis-cli -- eval lists
fi
npm ci --no-audit --no-fund
npm run build
exec node tests/support/serve.mjs
