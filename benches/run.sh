#!/usr/bin/env bash
# Every performance figure of docs/PERFORMANCE.md in one run, printed line by line:
# backlog throughput, parse path, SHA-256, latency, memory (1 GiB attachment; 100,000 appeals),
# УРОГ query over 100,000 appeals, journal verify at 1,000,000 records, restart after kill -9;
# then a region's hub of 489 bodies at 250,000 appeals.
# Each ratio is measured against this machine in the same run. Run it on an idle machine
# (no fuzzers, no builds): it takes about 10 minutes and needs ~2.5 GB of free disk in the
# current folder (benchmark folders are created here, not in /tmp, which may be tmpfs).
#
# Usage: benches/run.sh            (sizes as in the issue)
#        QUICK=1 benches/run.sh    (a tenth of the sizes, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${QUICK:-}" ]; then
  export BENCH_BACKLOG=1000 BENCH_LATENCY=50 BENCH_BIG_MIB=128 BENCH_PACKAGES=1000 \
         BENCH_SHA_MIB=128 BENCH_APPEALS=10000 BENCH_RECORDS=100000 \
         BENCH_REAL_PACKAGES=100
fi
cargo build --release --quiet
cargo bench --no-run --quiet 2>/dev/null
echo "== $(date -u +%FT%TZ) on $(nproc) cores, $(uname -r), $(df -T . | awk 'NR==2 {print $2}') at $(pwd)"
for bench in wire spool appeals; do
  cargo bench --quiet --bench "$bench" 2>/dev/null | grep -v '^$'
done
# a region's hub (issue 28): 489 bodies, a year of a region (250,000 appeals, 2,500,000
# records; a tenth with QUICK)
echo "== a region's hub: 489 bodies"
if [ -n "${QUICK:-}" ]; then
  region="BENCH_APPEALS=25000 BENCH_RECORDS=250000"
else
  region="BENCH_APPEALS=250000 BENCH_RECORDS=2500000"
fi
env BENCH_BODIES=489 $region cargo bench --quiet --bench appeals 2>/dev/null | grep -v '^$'
# the journal on PostgreSQL against files (issue 29): a throwaway server with fsync on
if command -v pg_virtualenv >/dev/null 2>&1; then
  echo "== the journal on PostgreSQL"
  pg_virtualenv -o fsync=on cargo bench --quiet --bench postgres 2>/dev/null | grep -v '^$' | grep -v 'cluster'
else
  echo "SKIPPED the journal on PostgreSQL: no pg_virtualenv (apt-get install postgresql)"
fi
