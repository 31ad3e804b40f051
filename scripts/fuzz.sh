#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz) for SECONDS each (default 600), with libFuzzer through
# cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP lets it pass libFuzzer's flags), without
# a sanitizer: a panic is the crash looked for. New corpus entries stay in a scratch folder;
# a crash leaves its input under tests/fuzz/artifacts/ to be turned into a regression test.
# FUZZ_SCRATCH=fresh starts from the committed seeds only (bounded time, for the test command).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy fusion trec normalize tokenize bundle e5_file e5_tokenize)
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --version 0.13.2
scripts/setup.sh > /dev/null
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  if [ "${FUZZ_SCRATCH:-}" = fresh ]; then
    scratch=$(mktemp -d)
  else
    scratch="${CARGO_TARGET_DIR:-target}/fuzz-corpus/$target"
    mkdir -p "$scratch"
  fi
  echo "== $target, ${seconds} s"
  log="$scratch.log"
  status=0
  cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none "$target" "$scratch" "tests/fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 > "$log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|panicked|^==[0-9]+==|SUMMARY' "$log" || true
  if [ "$status" != 0 ]; then
    tail -30 "$log" >&2
    echo "fuzz target $target failed (log: $log)" >&2
    exit 1
  fi
done
