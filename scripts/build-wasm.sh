#!/usr/bin/env bash
# Builds the wasm module and its wasm-bindgen glue into js/src/wasm/, optimized by wasm-opt.
# Installs the wasm-bindgen CLI matching the pinned crate once (about 11 minutes) and the npm
# build tools (binaryen's wasm-opt) when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$version" ]; then
  cargo install wasm-bindgen-cli --version "=$version"
fi
[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --profile wasm-release -p tamis-wasm --target wasm32-unknown-unknown
module="$target_dir/wasm32-unknown-unknown/wasm-release/tamis_wasm.wasm"
# One glue for every host: the web target's init takes the module's bytes, which the JS
# wrapper reads from a file under Node and fetches in a browser.
rm -rf js/src/wasm
wasm-bindgen --target web --out-dir js/src/wasm "$module"
size() { printf '%.1f MB raw, %.1f MB gzipped' "$(stat -c %s "$1")e-6" "$(gzip -9 -c "$1" | wc -c)e-6"; }
echo "wasm module before wasm-opt: $(size js/src/wasm/tamis_wasm_bg.wasm)"
# npm binaryen, not Debian's (version 108 writes modules that fail to load).
node_modules/.bin/wasm-opt -Oz js/src/wasm/tamis_wasm_bg.wasm -o js/src/wasm/tamis_wasm_bg.wasm
echo "wasm module after wasm-opt -Oz: $(size js/src/wasm/tamis_wasm_bg.wasm)"
