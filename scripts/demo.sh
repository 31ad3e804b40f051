#!/usr/bin/env bash
# The main job: prepare everything, then classify the built-in sample posts under the built-in
# sample policy with the default model, printing each verdict with its action and reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --quiet --release -p tamis-cli -- classify "$@"
