#!/usr/bin/env python3
"""Independent check of docs/record-format.md: verifies every test vector with Python's
standard library (hashlib, json) and the `cryptography` package's Ed25519, using a canonical
JSON writer written from the spec, not from the Rust code.

    pip install cryptography && python3 scripts/verify-vectors.py
"""
import hashlib
import json
import pathlib
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CONTEXT = b"rix-record-v1\x00"
MAGIC = b"RIX\x01"
SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def canon(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        raise ValueError("floats are not canonical")
    if isinstance(v, str):
        return '"' + "".join(SHORT.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in v) + '"'
    if isinstance(v, list):
        return "[" + ",".join(canon(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(canon(k) + ":" + canon(v[k]) for k in keys) + "}"


def vectors(doc):
    block = None
    for line in doc.splitlines():
        if line == "```rix-vector":
            block = {}
        elif line == "```" and block is not None:
            yield block
            block = None
        elif block is not None:
            k, _, val = line.partition(": ")
            block[k] = val


def main():
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "record-format.md").read_text(encoding="utf-8")
    n = 0
    for v in vectors(doc):
        name = v["name"]
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed"]))
        pub = key.public_key().public_bytes_raw()
        assert pub.hex() == v["author_key"], f"{name}: public key"
        envelope = bytes.fromhex(v["envelope_hex"])
        assert envelope[:4] == MAGIC and len(envelope) <= 262144, f"{name}: magic/size"
        sig, payload = envelope[4:68], envelope[68:]
        assert payload == bytes.fromhex(v["payload_hex"]) == v["payload"].encode(), f"{name}: payload"
        record = json.loads(payload)
        assert canon(record).encode() == payload, f"{name}: not canonical"
        assert record["author_key"] == pub.hex() and record["format"] == 1
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, CONTEXT + payload)
        assert key.sign(CONTEXT + payload) == sig, f"{name}: signature not deterministic"
        assert hashlib.sha256(envelope).hexdigest() == v["id"], f"{name}: id"
        n += 1
    assert n == 3, f"expected 3 vectors, found {n}"
    print(f"{n} passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
