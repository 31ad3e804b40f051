#!/usr/bin/env bash
# Every test of tamis: formatting, lints, the Rust tests on the real model, the wasm module
# built and tested under Node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }
step "cargo fmt"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo test"
cargo test --workspace
step "the wasm module and its bindings"
scripts/build-wasm.sh
step "node tests of the wasm module"
TAMIS_BIN="${CARGO_TARGET_DIR:-target}/debug/tamis" node --test tests/node/
