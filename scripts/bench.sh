#!/usr/bin/env bash
# Runs every rix benchmark and prints their figures as one table (also saved to
# target/bench/summary.md; each benchmark's full output is in target/bench/<name>.txt).
#
#   scripts/bench.sh            full sizes (about 20 minutes on 2 cores, 6 GB of disk)
#   scripts/bench.sh --quick    small sizes, to check that everything runs (about 3 minutes)
#
# docs/performance.md explains each figure and what limits it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench
mkdir -p "$out"
if [ "${1:-}" = "--quick" ]; then
    export RIX_BENCH_RECORDS=1000 RIX_BENCH_JOURNAL_WRITES=50 RIX_BENCH_SEARCH_RECORDS=10000 RIX_BENCH_PROPAGATION=300 \
        RIX_BENCH_CATCHUP=10000 RIX_SCALE_NODES=30 RIX_SCALE_RECORDS=60 RIX_MILLION_RECORDS=50000 \
        RIX_BENCH_WEB_RECORDS=9000 RIX_BENCH_WEB_RUNS=10
fi
benches=(
    "pipeline:cargo bench -q -p rix-store --bench pipeline"
    "journal:cargo bench -q -p rix-node --bench journal"
    "search:cargo bench -q -p rix-tests --bench search"
    "web:cargo bench -q -p rix-tests --bench web"
    "network:cargo bench -q -p rix-tests --bench network"
    "daemons:cargo bench -q -p rix-cli --bench daemons"
    "scale:cargo bench -q -p rix-tests --bench scale"
    "million:cargo bench -q -p rix-cli --bench million"
)
cargo bench --no-run -q -p rix-store -p rix-node -p rix-tests -p rix-cli 2>/dev/null \
    || cargo bench --no-run -p rix-store -p rix-node -p rix-tests -p rix-cli
{
    echo "rix benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
    echo "| benchmark | figures |"
    echo "|---|---|"
} > "$out/summary.md"
for entry in "${benches[@]}"; do
    name="${entry%%:*}"
    command="${entry#*:}"
    echo "== $name: $command" >&2
    start=$(date +%s)
    # Each benchmark starts with the disk's write-back queue empty: the one before may have
    # left gigabytes of dirty pages, whose flushing would stall this one's fdatasyncs.
    sync
    $command 2>"$out/$name.log" | tee "$out/$name.txt" >&2
    echo "   ($(( $(date +%s) - start )) s)" >&2
    grep -v '^\s*$' "$out/$name.txt" | while IFS= read -r line; do
        echo "| $name | ${line//|/\\|} |" >> "$out/summary.md"
    done
done
echo >&2
cat "$out/summary.md"
