#!/usr/bin/env bash
# Longer crash campaign than CI runs: several seeds, many iterations each, release build.
# Usage: tests/crash-long.sh [iterations-per-seed] [seeds...]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-1000}
shift || true
seeds=${*:-"1 2 3 4 5"}
for seed in $seeds; do
  echo "== seed $seed, $iterations iterations"
  MEDO_CRASH_ITERATIONS=$iterations MEDO_CRASH_SEED=$seed \
    cargo test --release --test crash -- --nocapture 2>&1 | grep -E 'crash harness|test result|panicked'
done
