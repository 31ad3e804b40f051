#!/usr/bin/env bash
# The libraries must not be able to reach the network: fails when a networking crate appears
# in the dependency tree of tamis-core, tamis-model, tamis-gpu (native) or tamis-wasm (wasm32).
# In wasm32, wgpu's WebGPU backend needs web-sys (to find navigator.gpu); it is allowed without
# its networking bindings. The browser privacy tests trap every request at run time.
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
forbidden=${forbidden/web-sys|/}
check -p tamis-wasm --target wasm32-unknown-unknown
network_bindings='^(Request|RequestInit|Response|Headers|WebSocket|XmlHttpRequest|EventSource|RtcPeerConnection|RtcDataChannel|WebTransport)$'
found=$(cargo tree -p tamis-wasm --target wasm32-unknown-unknown -e features --prefix none \
  | sed -n 's/^web-sys feature "\([A-Za-z]*\)".*/\1/p' | sort -u | grep -E "$network_bindings" || true)
if [ -n "$found" ]; then
  echo "web-sys networking bindings enabled in tamis-wasm: $found" >&2
  exit 1
fi
echo "no networking crate in tamis-core, tamis-model, tamis-gpu, tamis-wasm"
