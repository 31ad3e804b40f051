#!/usr/bin/env bash
# Debian packages the tests need that a fresh machine lacks: Chromium (the browser tests drive it
# through playwright-core) and lavapipe, a software Vulkan driver the GPU encoder's tests run on.
# Installs only what is missing; needs root or sudo.
set -euo pipefail
missing=()
command -v chromium > /dev/null || missing+=(chromium chromium-driver)
ls /usr/share/vulkan/icd.d/lvp_icd* > /dev/null 2>&1 || missing+=(mesa-vulkan-drivers)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update
  $sudo apt-get install -y "${missing[@]}"
fi
