#!/usr/bin/env bash
# Runs every rix fuzz target (cargo-fuzz / libFuzzer) for a bounded time, starting from the
# committed corpus (fuzz/corpus/<target>.bin), then minimises what it found back into it. Not part of the default test run: it needs cargo-fuzz
# and nightly compiler features (enabled here on the stable toolchain with RUSTC_BOOTSTRAP=1).
#
#   tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 seconds, every target)
#
# Inputs that crash a target are copied to fuzz/regressions/<target>/; commit them with the fix:
# `cargo test -p rix-tests --test fuzz_corpus` replays them (and the corpus) on every test run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(envelope sync_frames record_file config charter)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O --sanitizer none
status=0
for t in "${targets[@]}"; do
    work="work/$t"
    mkdir -p "$work" "artifacts/$t"
    [ -f "corpus/$t.bin" ] && python3 ../scripts/corpus.py unpack "corpus/$t.bin" "$work" >/dev/null
    echo "== $t: fuzzing for ${seconds}s"
    if ! cargo fuzz run -O --sanitizer none "$t" "$work" -- \
        -max_total_time="$seconds" -max_len=300000 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" 2>"work/$t.log"; then
        status=1
        echo "!! $t found a crash; see fuzz/work/$t.log"
        mkdir -p "regressions/$t"
        cp artifacts/"$t"/crash-* artifacts/"$t"/oom-* artifacts/"$t"/timeout-* "regressions/$t/" 2>/dev/null || true
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov: " "work/$t.log" | tail -3 || true
    # Keep the committed corpus small: only inputs that add coverage.
    cargo fuzz cmin -O --sanitizer none "$t" "$work" >/dev/null 2>&1 || true
    python3 ../scripts/corpus.py pack "$work" "corpus/$t.bin" | sed 's/^/   /'
done
exit $status
