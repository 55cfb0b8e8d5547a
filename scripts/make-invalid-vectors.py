#!/usr/bin/env python3
"""Prints the invalid-record test vectors of docs/record-format.md section 9.2 (and the
empty-section valid vector of 9.1), built in pure Python from the spec. Run it after changing
them and paste its output into the document; scripts/verify-vectors.py and
crates/rix-record/tests/vectors.rs check the document, not this script.

    python3 scripts/make-invalid-vectors.py
"""
import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import ed25519_strict as ed  # noqa: E402

SEED = bytes(range(32))
KEY = ed.public_key(SEED).hex()
OTHER_SEED = bytes(range(32, 64))
CONTEXT = b"rix-record-v1\x00"
MAGIC = b"RIX\x01"

BASE = {
    "author": "KZ",
    "author_key": KEY,
    "content": {"factors": ["transparency"], "kind": "best-practice", "language": "en",
                "title": "Integrity hotline", "type": "publication"},
    "created_at": "2007-01-19T10:00:00Z",
    "format": 1,
    "network": "almaty-integrity",
    "seq": 1,
}


def canon(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def envelope(payload: bytes, seed=SEED, signature=None):
    return MAGIC + (signature or ed.sign(seed, CONTEXT + payload)) + payload


def record(**changes):
    r = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        if key.startswith("content."):
            r["content"][key[8:]] = value
        else:
            r[key] = value
    return r


def block(kind, fields):
    print(f"```{kind}")
    for k, v in fields:
        print(f"{k}: {v}")
    print("```")
    print()


def invalid(name, expect, env, note, charter_key=KEY, pad_to=None):
    fields = [("name", name), ("expect", expect), ("charter_key", charter_key), ("envelope_hex", env.hex())]
    if pad_to:
        fields.append(("pad_to", str(pad_to)))
    fields.append(("note", note))
    block("rix-invalid-vector", fields)


def main():
    base_payload = canon(BASE).encode()
    good = envelope(base_payload)

    # 9.1: a valid record with an empty kind section and an empty optional string.
    empty = record(**{"content.best_practice": {}, "content.contact_unit": ""})
    payload = canon(empty).encode()
    env = envelope(payload)
    block("rix-vector", [("name", "empty-section-and-empty-string"), ("seed", SEED.hex()), ("author_key", KEY),
                         ("payload", payload.decode()), ("payload_hex", payload.hex()),
                         ("signature", env[4:68].hex()), ("envelope_hex", env.hex()),
                         ("id", hashlib.sha256(env).hexdigest())])

    print("=== invalid")
    invalid("too-large", "too_large", MAGIC, "the magic followed by 0x20 bytes up to 262,145 bytes in all: one over the limit", pad_to=262145)
    invalid("no-header", "truncated", b"RIX", "3 bytes: no complete magic")
    invalid("bad-magic", "bad_magic", b"RIY\x01" + good[4:], "the first vector with its third byte changed")
    invalid("unsupported-version", "unsupported_version", b"RIX\x02" + good[4:], "the first vector with version byte 2")
    invalid("no-payload", "truncated", good[:68], "magic and signature, no payload")
    invalid("payload-cut", "truncated", good[:-1], "the first vector without its last byte: the JSON ends early")
    env = envelope(canon(record(colour="blue")).encode())
    invalid("unknown-field", "malformed", env, "an unknown top-level field, otherwise valid and signed")
    r = record()
    del r["content"]["title"]
    invalid("missing-title", "malformed", envelope(canon(r).encode()), "a publication without its required title")
    invalid("seq-as-string", "malformed", envelope(canon(record(seq="1")).encode()), "a string where an integer is required")
    invalid("bad-member-code", "malformed", envelope(canon(record(author="kz")).encode()),
            "a lowercase author code: a typed field (member code) fails as malformed, not invalid_field")
    invalid("unknown-factor", "malformed", envelope(canon(record(**{"content.factors": ["honesty"]})).encode()),
            "a key factor outside the vocabulary: a typed field, malformed")
    not_a_point = next(y for y in range(2, 100) if ed.decompress(y.to_bytes(32, "little")) is None).to_bytes(32, "little")
    invalid("author-key-not-a-point", "malformed", envelope(canon(record(author_key=not_a_point.hex())).encode()),
            "an author_key whose y has no x on the curve")
    y_plus_p = (ed.P + 1).to_bytes(32, "little")
    invalid("author-key-non-canonical", "malformed", envelope(canon(record(author_key=y_plus_p.hex())).encode()),
            "an author_key encoding y = p + 1, a second spelling of the identity's y = 1 (RFC 8032 refuses y >= p)")
    invalid("date-not-in-calendar", "malformed",
            envelope(canon(record(**{"content.period": {"from": "2007-02-29"}})).encode()), "period.from 2007-02-29: no such day")
    invalid("date-with-sign", "malformed",
            envelope(canon(record(**{"content.period": {"from": "+2007-01-01"}})).encode()), "a signed year: DATE is exactly YYYY-MM-DD")
    invalid("time-with-fraction", "malformed", envelope(canon(record(created_at="2007-01-19T10:00:00.5Z")).encode()),
            "created_at with a fraction of a second")
    duplicate = canon(BASE).replace('"seq":1}', '"seq":1,"seq":1}').encode()
    invalid("duplicate-key", "malformed", envelope(duplicate), "the key seq given twice")
    invalid("trailing-text", "malformed", envelope(base_payload + b" x"), "text after the JSON value")
    bad_then_cut = canon(record(**{"content.factors": [1]})).encode()
    cut_at = bad_then_cut.index(b'"title"')
    invalid("content-cut-after-a-bad-value", "truncated", envelope(bad_then_cut[:cut_at]),
            "content has a number where a factor belongs, then the payload ends inside content: truncated, not malformed")
    spaced = canon(BASE).replace(',"format"', ', "format"').encode()
    invalid("non-canonical-space", "non_canonical", envelope(spaced), "one space after a comma, signed as it is")
    reordered = json.dumps(dict(reversed(list(BASE.items()))), ensure_ascii=False, separators=(",", ":")).encode()
    invalid("non-canonical-order", "non_canonical", envelope(reordered), "the top-level keys in reverse order, not sorted")
    empty_list = canon(record(**{"content.tags": []})).encode()
    invalid("non-canonical-empty-list", "non_canonical", envelope(empty_list), "\"tags\":[] written instead of omitted")
    escaped = canon(record(**{"content.title": "Integrity/hotline"})).replace("Integrity/hotline", "Integrity\\/hotline").encode()
    invalid("non-canonical-escape", "non_canonical", envelope(escaped), "a solidus escaped as \\/")
    invalid("blank-title", "invalid_field", envelope(canon(record(**{"content.title": "   "})).encode()), "a title of spaces")
    invalid("duplicate-factor", "invalid_field",
            envelope(canon(record(**{"content.factors": ["transparency", "transparency"]})).encode()), "a key factor listed twice")
    invalid("seq-1-with-prev", "invalid_field", envelope(canon(record(prev="00" * 32)).encode()), "prev present with seq 1")
    invalid("wrong-network", "wrong_network", envelope(canon(record(network="other-network")).encode()), "signed for network other-network")
    invalid("unknown-author", "unknown_author", envelope(canon(record(author="JP")).encode()), "author JP, not in the charter (KZ only)")
    other_key = ed.public_key(OTHER_SEED).hex()
    invalid("key-mismatch", "key_mismatch", envelope(canon(record(author_key=other_key)).encode(), seed=OTHER_SEED),
            "signed by another key, which it names as author_key: not KZ's key in the charter")
    flipped = bytearray(good)
    flipped[4 + 10] ^= 1
    invalid("bad-signature", "bad_signature", bytes(flipped), "the first vector with one bit of R flipped")

    # S + L: the same signature with a non-canonical scalar (check a).
    s = int.from_bytes(good[36:68], "little") + ed.L
    invalid("non-canonical-s", "bad_signature", good[:36] + s.to_bytes(32, "little") + good[68:],
            "the first vector with S replaced by S + L (not below L)")

    # A small-order public key (the identity point). R = identity and S = 0 satisfy the
    # cofactorless equation for any message: a forgery that RFC 8032's equation alone accepts.
    identity = (1).to_bytes(32, "little")
    payload = canon(record(author_key=identity.hex())).encode()
    invalid("small-order-public-key", "bad_signature", envelope(payload, signature=identity + bytes(32)),
            "author_key and charter key are the identity point, R the identity, S 0: the equation holds, the key is of small order",
            charter_key=identity.hex())

    # A small-order R: R = identity and S = k*a, so [S]B = R + [k]A holds exactly.
    a, _ = ed.secret_scalar(SEED)
    payload = base_payload
    k = int.from_bytes(hashlib.sha512(identity + bytes.fromhex(KEY) + CONTEXT + payload).digest(), "little") % ed.L
    sig = identity + ((k * a) % ed.L).to_bytes(32, "little")
    assert ed.verify_strict(bytes.fromhex(KEY), CONTEXT + payload, sig) == "e"
    invalid("small-order-r", "bad_signature", envelope(payload, signature=sig),
            "R is the identity point and S = k*a: the cofactorless equation holds, R is of small order")

    # A mixed-order R: R = rB + T with T of order 2 (encoding of (0, -1)), S = r + k*a. The
    # cofactorless equation fails by exactly T; a cofactored or batch check may accept it.
    r = 12345
    t = ed.decompress((ed.P - 1).to_bytes(32, "little"))
    big_r = ed.compress(ed._add(ed._mul(r, ed.BASE), t))
    k = int.from_bytes(hashlib.sha512(big_r + bytes.fromhex(KEY) + CONTEXT + payload).digest(), "little") % ed.L
    sig = big_r + ((r + k * a) % ed.L).to_bytes(32, "little")
    assert ed.verify_strict(bytes.fromhex(KEY), CONTEXT + payload, sig) == "f"
    invalid("mixed-order-r", "bad_signature", envelope(payload, signature=sig),
            "R = rB + T, T of order 2, S = r + k*a: off by T in the cofactorless equation, which a batch or cofactored check can miss")


if __name__ == "__main__":
    main()
