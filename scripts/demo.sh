#!/usr/bin/env bash
# The main job: prepare everything, then embed the built-in sample posts with the default model
# and show each one's nearest neighbour.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --quiet --release -p tamis-cli -- neighbours "$@"
