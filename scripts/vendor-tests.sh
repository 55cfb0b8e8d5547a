#!/usr/bin/env bash
# Runs the upstream test suite of each vendored crate (vendor/README.md) against rix's patched
# copy: fetches the pristine crates.io release through cargo, lays the patched src/ over it
# (keeping upstream's tests and dev-dependencies, which the vendored copies drop), and runs
# `cargo test` there. Not part of CI: it builds two more dependency trees (about 10 minutes on
# 2 cores) and needs the crate registry.
#
# Usage: scripts/vendor-tests.sh [sled|libp2p-gossipsub]...   (default: both)
# Exit status: non-zero if any suite fails. WORK=DIR keeps the build there for reruns.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${WORK:-$(mktemp -d)}"
crates=("$@")
[ ${#crates[@]} -eq 0 ] && crates=(sled libp2p-gossipsub)
status=0
for name in "${crates[@]}"; do
  version=$(python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["package"]["version"])' "$root/vendor/$name/Cargo.toml")
  echo "== $name $version: fetching the pristine release"
  fetch="$work/fetch-$name"
  mkdir -p "$fetch/src"
  printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
    "$name" "$name" "$version" > "$fetch/Cargo.toml"
  : > "$fetch/src/lib.rs"
  cargo fetch --quiet --manifest-path "$fetch/Cargo.toml"
  pristine=$(cargo metadata --quiet --format-version 1 --manifest-path "$fetch/Cargo.toml" |
    python3 -c 'import json,sys; m=json.load(sys.stdin); n,v=sys.argv[1:3]; print(next(p["manifest_path"] for p in m["packages"] if p["name"]==n and p["version"]==v))' "$name" "$version")
  suite="$work/$name"
  rm -rf "$suite"
  cp -r "$(dirname "$pristine")" "$suite"
  # The patched sources over the pristine ones; upstream's tests/ and manifest stay.
  cp -r "$root/vendor/$name/src/." "$suite/src/"
  # A workspace of its own, so cargo does not look for one above it.
  grep -q '^\[workspace\]' "$suite/Cargo.toml" || printf '\n[workspace]\n' >> "$suite/Cargo.toml"
  # What each crates.io release lacks for its own tests, and which of them build at all.
  args=()
  case "$name" in
    sled)
      # tests/test_tree.rs and tests/test_crash_recovery.rs of the 0.34.7 release do not
      # compile against its own src (a `&mut self` method called on an immutable binding),
      # patched or not; the unit tests and the other suites do.
      # Its suites insist on its "testing" feature (extra runtime checks and delays).
      args=(--features testing --lib --test test_log --test test_quiescent --test test_space_leaks) ;;
    libp2p-gossipsub)
      # rust-libp2p's tests use its unpublished `quickcheck-ext`, a re-export of quickcheck 1.
      printf '
[dev-dependencies.quickcheck]
version = "1"
' >> "$suite/Cargo.toml"
      args=(--lib) ;;
  esac
  echo "== $name $version: upstream tests against the patched copy ($suite): cargo test ${args[*]}"
  if (cd "$suite" && cargo test --quiet "${args[@]}" 2>&1 | tail -n 25); then
    echo "ok: $name"
  else
    echo "FAILED: $name" >&2
    status=1
  fi
done
exit $status
