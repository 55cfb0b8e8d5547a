#!/usr/bin/env python3
"""Fails when a `[patch.crates-io]` entry of the workspace Cargo.toml is not used.

Cargo only warns when a patch no longer matches what the crate graph asks for (for example
after a dependency moved to a newer release than the vendored copy); the build then silently
uses the crates.io release and the measured fix is gone. A patched package appears in
Cargo.lock without a `source` (it comes from a path); a registry copy of it has one.

Usage: python3 scripts/check-patches.py   (from anywhere; exit 1 names the unused patch)
"""
import pathlib
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
manifest = tomllib.loads((root / "Cargo.toml").read_text())
lock = tomllib.loads((root / "Cargo.lock").read_text())
patches = manifest.get("patch", {}).get("crates-io", {})
packages = lock.get("package", [])
bad = []
for name, spec in sorted(patches.items()):
    vendored = tomllib.loads((root / spec["path"] / "Cargo.toml").read_text())["package"]["version"]
    from_path = [p for p in packages if p["name"] == name and "source" not in p]
    from_registry = [p for p in packages if p["name"] == name and p.get("source", "").startswith("registry+")]
    if not from_path:
        bad.append(f"{name}: the patch ({spec['path']}, {vendored}) is not in Cargo.lock: nothing uses it")
    elif from_registry:
        versions = ", ".join(p["version"] for p in from_registry)
        bad.append(f"{name}: the patch ({vendored}) is used, but the crates.io release {versions} is built too")
    else:
        print(f"ok: {name} {vendored} comes from {spec['path']}")
if bad:
    for b in bad:
        print(f"unused patch: {b}", file=sys.stderr)
    print("Update the vendored copy (vendor/README.md says how) or drop the [patch] entry.", file=sys.stderr)
    sys.exit(1)
