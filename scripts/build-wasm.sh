#!/usr/bin/env bash
# Builds the wasm module and its JavaScript bindings into js/wasm/{node,web}.
# Installs the wasm-bindgen CLI matching the pinned crate once (about 11 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$version" ]; then
  cargo install wasm-bindgen-cli --version "=$version"
fi
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --profile wasm-release -p tamis-wasm --target wasm32-unknown-unknown
module="$target_dir/wasm32-unknown-unknown/wasm-release/tamis_wasm.wasm"
wasm-bindgen --target nodejs --out-dir js/wasm/node "$module"
wasm-bindgen --target web --out-dir js/wasm/web "$module"
ls -l js/wasm/node/tamis_wasm_bg.wasm | awk '{printf "wasm module: %.1f MB", $5 / 1e6}'
gzip -9 -c js/wasm/node/tamis_wasm_bg.wasm | wc -c | awk '{printf ", %.1f MB gzipped\n", $1 / 1e6}'
