#!/usr/bin/env bash
# The libraries must not be able to reach the network: fails when a networking crate appears
# in the dependency tree of tamis-core, tamis-model, tamis-gpu (native) or tamis-wasm (wasm32).
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(web-sys|reqwest|hyper|h2|ureq|curl|isahc|attohttpc|surf|tokio|mio|socket2|async-std|tungstenite|rustls|native-tls|openssl)$'
check() {
  local found
  found=$(cargo tree "$@" -e normal --prefix none | sed 's/ .*//' | sort -u | grep -E "$forbidden" || true)
  if [ -n "$found" ]; then
    echo "networking crates in $*: $found" >&2
    exit 1
  fi
}
check -p tamis-core
check -p tamis-model
check -p tamis-gpu
check -p tamis-wasm --target wasm32-unknown-unknown
echo "no networking crate in tamis-core, tamis-model, tamis-gpu, tamis-wasm"
