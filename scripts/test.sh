#!/usr/bin/env bash
# Every test of tamis: formatting, lints, licences, the Rust tests on the real model, the npm
# package built (wasm module, strict TypeScript) and tested under Node, from its packed tarball in
# a fresh project and in headless Chromium, then each fuzz target for 30 s. Evaluations and
# benchmarks are commands of their own (docs/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Each step's start time: a slow CI run shows which step took the time.
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }
step "cargo fmt"
cargo fmt --all -- --check
cargo fmt --manifest-path tests/fuzz/Cargo.toml -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo clippy on both wasm modules (their kernels and the threaded pool are wasm-only code)"
scripts/build-wasm.sh --lint
scripts/build-wasm.sh --threads --lint
step "no networking crate in the libraries"
scripts/check-no-network.sh
step "licences and bans (cargo deny)"
command -v cargo-deny > /dev/null || cargo install cargo-deny --locked --version 0.20.2
cargo deny --config scripts/deny.toml check licenses bans
step "system packages: Chromium, lavapipe"
scripts/install-system-packages.sh
step "cargo test"
cargo test --workspace
# Both wasm modules: the single-thread one and the threaded one (nightly, build-std), each
# rebuilt only when its sources changed.
step "the npm package (npm run build: both wasm modules)"
npm ci --no-audit --no-fund
npm run build
step "node tests of the package"
export TAMIS_BIN="${CARGO_TARGET_DIR:-target}/debug/tamis"
node --test tests/node/
step "the packed tarball in a fresh project: Node, tsc, Vite and Chromium"
node --test tests/package/
step "browser tests in headless Chromium"
# The demo's fusion tab fuses these Cranfield lists (document embeddings cached in target/eval).
"$TAMIS_BIN" eval lists
node --test tests/browser/
step "fuzz targets, 30 s each (scripts/fuzz.sh runs them longer)"
FUZZ_SCRATCH=fresh scripts/fuzz.sh 30
