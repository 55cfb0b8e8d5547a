#!/usr/bin/env python3
"""Packs a fuzz corpus directory into one file, or unpacks it: thousands of tiny files become one
file per target in git. Format: a sequence of entries, each a 4-byte big-endian length and the
input's bytes; `tests/tests/fuzz_corpus.rs` reads the same format.

    scripts/corpus.py pack DIR FILE      scripts/corpus.py unpack FILE DIR
"""
import hashlib
import os
import struct
import sys


def pack(directory, path):
    names = sorted(os.listdir(directory))
    with open(path, "wb") as out:
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
            out.write(struct.pack(">I", len(data)))
            out.write(data)
    print(f"{path}: {len(names)} inputs")


def unpack(path, directory):
    os.makedirs(directory, exist_ok=True)
    with open(path, "rb") as f:
        blob = f.read()
    i = count = 0
    while i < len(blob):
        (n,) = struct.unpack(">I", blob[i : i + 4])
        data = blob[i + 4 : i + 4 + n]
        i += 4 + n
        with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as out:
            out.write(data)
        count += 1
    print(f"{directory}: {count} inputs from {path}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    (pack if sys.argv[1] == "pack" else unpack)(sys.argv[2], sys.argv[3])
