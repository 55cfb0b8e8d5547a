#!/usr/bin/env bash
# Checks every dependency in Cargo.lock against the RustSec advisory database with cargo-audit.
#
#   scripts/audit.sh                 cargo-audit fetches the database itself (needs network)
#   scripts/audit.sh ADVISORY_DB     uses a local clone of github.com/rustsec/advisory-db
#
# Exits non-zero if any dependency has a vulnerability advisory. Warnings (unmaintained or
# yanked crates) are printed but do not fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-audit >/dev/null || cargo install cargo-audit --locked
if [ $# -ge 1 ]; then
    exec cargo audit --db "$1" --no-fetch --stale
else
    exec cargo audit
fi
