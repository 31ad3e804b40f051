#!/usr/bin/env bash
# Every test of tamis: formatting, lints, the Rust tests on the real model, the wasm build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }
step "cargo fmt"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "the model crate builds for wasm32"
cargo build -p tamis-model --target wasm32-unknown-unknown
step "cargo test"
cargo test --workspace
