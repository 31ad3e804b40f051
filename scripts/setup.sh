#!/usr/bin/env bash
# Installs what tamis needs on a fresh machine and prepares the model bundles (models.json).
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
python3 scripts/prepare-model.py --model minilm-l6-int8
python3 scripts/prepare-model.py --model e5-small-q4
