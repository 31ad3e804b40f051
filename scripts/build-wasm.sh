#!/usr/bin/env bash
# Builds the wasm module and its wasm-bindgen glue into js/src/wasm/, optimized by wasm-opt.
# With --threads, the threaded module into js/src/wasm-threads/ instead: shared memory, atomics
# and a pool of Web Workers (wasm-bindgen-rayon), for cross-origin isolated workers; it needs
# the nightly toolchain's rust-src (std rebuilt with atomics), which this script installs.
# Installs the wasm-bindgen CLI matching the pinned crate once (about 11 minutes) and the npm
# build tools (binaryen's wasm-opt) when absent. Skips wasm-bindgen and wasm-opt when the
# module cargo built is older than the output (cargo itself rebuilds only what changed).
# With --lint, runs clippy on the module's code as that module compiles it (the wasm kernels,
# and with --threads the worker pool, which no native build sees) and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=false
lint=false
for arg in "$@"; do
  case "$arg" in
    --threads) threads=true ;;
    --lint) lint=true ;;
    *) echo "usage: $0 [--threads] [--lint]" >&2; exit 2 ;;
  esac
done
if $lint; then
  cargo_command=(clippy --all-targets)
  lint_args=(-- -D warnings)
else
  cargo_command=(build)
  lint_args=()
  version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
  if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$version" ]; then
    cargo install wasm-bindgen-cli --version "=$version"
  fi
  [ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund
fi
target_dir="${CARGO_TARGET_DIR:-target}"
if $threads; then
  rustup component list --toolchain nightly --installed 2>/dev/null | grep '^rust-src' > /dev/null \
    || rustup toolchain install nightly --profile minimal --component rust-src --target wasm32-unknown-unknown
  if $lint; then
    rustup component list --toolchain nightly --installed | grep '^clippy' > /dev/null \
      || rustup component add clippy --toolchain nightly
    # Nightly's clippy has lints that stable's, which the rest of the code follows, has not yet.
    lint_args+=(-A clippy::chunks_exact_to_as_chunks)
  fi
  # Its own target directory: other flags and another compiler share nothing with the default
  # build, and would make cargo rebuild each in turn. The flags replace .cargo/config.toml's
  # (SIMD128 for tract's kernels, kept). The link makes the memory shared and imported, as
  # wasm-bindgen's threads support and the pool's workers need, and exports the thread-local
  # storage's symbols; shared memory needs a maximum: 4 GiB, what wasm32 addresses (browsers
  # reserve it, they do not allocate it).
  target_dir="$target_dir/wasm-threads"
  flags='-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128'
  for arg in --shared-memory --import-memory --max-memory=4294967296 --export=__wasm_init_tls \
    --export=__tls_size --export=__tls_align --export=__tls_base; do
    flags+=" -C link-arg=$arg"
  done
  RUSTFLAGS="$flags" cargo +nightly "${cargo_command[@]}" -Z build-std=panic_abort,std \
    --target-dir "$target_dir" --profile wasm-release -p tamis-wasm --features threads \
    --target wasm32-unknown-unknown "${lint_args[@]}"
  out=js/src/wasm-threads
else
  cargo "${cargo_command[@]}" --profile wasm-release -p tamis-wasm --target wasm32-unknown-unknown \
    "${lint_args[@]}"
  out=js/src/wasm
fi
$lint && exit 0
module="$target_dir/wasm32-unknown-unknown/wasm-release/tamis_wasm.wasm"
if [ -f "$out/tamis_wasm_bg.wasm" ] && [ "$out/tamis_wasm_bg.wasm" -nt "$module" ]; then
  echo "$out is up to date with $module"
  exit 0
fi
# Made beside the output and moved into place when complete, so that a failed run is never
# taken for an up-to-date output.
next="$out.next"
rm -rf "$next"
# One glue for every host: the web target's init takes the module's bytes, which the JS
# wrapper reads from a file under Node and fetches in a browser.
wasm-bindgen --target web --out-dir "$next" "$module"
if $threads; then
  # wasm-bindgen-rayon's workers import the glue as '../../..' (the package directory, which
  # bundlers resolve through package.json); name the file, so that browsers without a bundler
  # (and the package's own tests) find it too.
  helpers=$(find "$next/snippets" -name workerHelpers.js)
  grep -q "import('../../..')" "$helpers"
  sed -i "s|import('../../..')|import('../../../tamis_wasm.js')|" "$helpers"
fi
size() { printf '%.1f MB raw, %.1f MB gzipped' "$(stat -c %s "$1")e-6" "$(gzip -9 -c "$1" | wc -c)e-6"; }
echo "wasm module before wasm-opt: $(size "$next/tamis_wasm_bg.wasm")"
# npm binaryen, not Debian's (version 108 writes modules that fail to load). It reads the
# features to allow (SIMD128, and atomics in the threaded module) from the module itself.
node_modules/.bin/wasm-opt -Oz "$next/tamis_wasm_bg.wasm" -o "$next/tamis_wasm_bg.wasm"
echo "wasm module after wasm-opt -Oz: $(size "$next/tamis_wasm_bg.wasm")"
rm -rf "$out"
mv "$next" "$out"
