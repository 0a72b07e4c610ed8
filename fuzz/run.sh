#!/bin/sh
# Runs every fuzz target for FUZZ_SECS seconds (default 600) with --sanitizer none, one after
# another, then minimises each corpus in place. Findings land in fuzz/artifacts/<target>/.
# Usage: fuzz/run.sh [target ...]   (needs a nightly toolchain and cargo-fuzz)
set -eu
cd "$(dirname "$0")/.."
secs="${FUZZ_SECS:-600}"
targets="${*:-envelope message container passport journal}"
for t in $targets; do
    echo "== $t: ${secs} s"
    cargo +nightly fuzz run "$t" --sanitizer none "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|panicked|Done" || true
    cargo +nightly fuzz cmin "$t" --sanitizer none "fuzz/corpus/$t" >/dev/null 2>&1 || true
    echo "   corpus: $(ls "fuzz/corpus/$t" | wc -l) inputs; artifacts: $(ls "fuzz/artifacts/$t" 2>/dev/null | wc -l)"
done
