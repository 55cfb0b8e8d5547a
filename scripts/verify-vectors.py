#!/usr/bin/env python3
"""Independent check of docs/record-format.md: verifies every test vector with Python's
standard library (hashlib, json) and the `cryptography` package's Ed25519, using a canonical
JSON writer written from the spec, not from the Rust code. Each invalid vector (section 9.2)
goes through the checks of section 2 as written here, in pure Python (ed25519_strict.py, since
OpenSSL's Ed25519 is not the strict form), and must fail with its label.

    pip install cryptography && python3 scripts/verify-vectors.py
"""
import datetime
import hashlib
import json
import pathlib
import re
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import ed25519_strict  # noqa: E402

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
    # Section 3, rule 6: what the canonical form omits.
    keys = sorted((k for k in v if not omitted(k, v[k])), key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(canon(k) + ":" + canon(v[k]) for k in keys) + "}"


def omitted(key, value):
    return (
        (isinstance(value, list) and not value and key != "factors")
        or (key in ("summary", "body") and value == "")
        or (key == "anonymised" and value is False)
    )


def vectors(doc, fence="```rix-vector"):
    block = None
    for line in doc.splitlines():
        if line == fence:
            block = {}
        elif line == "```" and block is not None:
            yield block
            block = None
        elif block is not None:
            k, _, val = line.partition(": ")
            block[k] = val


LABELS = ["too_large", "truncated", "bad_magic", "unsupported_version", "malformed", "non_canonical",
          "invalid_field", "wrong_network", "unknown_author", "key_mismatch", "bad_signature"]
NETWORK = "almaty-integrity"
CHARTER_MEMBERS = {"KZ"}
KINDS = {"best-practice", "integrity-strategy", "case-study", "action-plan", "code-of-conduct", "event", "self-assessment"}
FACTORS = {"leadership", "regulatory-framework", "transparency", "automation", "reform-modernization",
           "audit-investigation", "code-of-conduct", "hrm", "morale-culture", "private-sector"}
APPROACHES = {"education", "prevention", "detection", "investigation", "prosecution"}
STAGES = {"self-assessment", "action-planning", "implementation", "monitoring", "evaluation", "peer-review"}
THEMES = {"collective-action", "customs-to-customs", "gender-diversity", "political-interference", "communication",
          "performance-measurement"}
SECTIONS = {"best-practice": "best_practice", "integrity-strategy": "integrity_strategy", "case-study": "case_study",
            "action-plan": "action_plan", "code-of-conduct": "code_of_conduct", "event": "event",
            "self-assessment": "self_assessment"}
MEMBER_CODE = re.compile(r"[A-Z][A-Z0-9-]{1,15}")
HEX64 = re.compile(r"[0-9a-f]{64}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
NETWORK_NAME = re.compile(r"[a-z0-9._-]{1,64}")


class Malformed(Exception):
    pass


def typed(value, kind, pattern=None, vocabulary=None):
    """Section 4's types: a violation is `malformed` (step 6)."""
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "object": isinstance(value, dict),
        "list": isinstance(value, list),
    }[kind]
    if not ok or (pattern and not pattern.fullmatch(value)) or (vocabulary and value not in vocabulary):
        raise Malformed(value)


def fields(obj, required, optional):
    typed(obj, "object")
    if not set(required) <= set(obj) or set(obj) - set(required) - set(optional):
        raise Malformed(sorted(obj))
    for key, check in {**required, **optional}.items():
        if key in obj:
            check(obj[key])


def of(kind, pattern=None, vocabulary=None):
    return lambda v: typed(v, kind, pattern, vocabulary)


def list_of(kind, pattern=None, vocabulary=None):
    def check(values):
        typed(values, "list")
        for v in values:
            typed(v, kind, pattern, vocabulary)
    return check


def schema(record):
    """Step 6 after the JSON parse: required fields, types, no unknown fields (section 4).
    The kind sections are checked as objects only; their inner fields are not exercised by
    the vectors."""
    fields(record, {"format": of("int"), "network": of("str"), "author": of("str", MEMBER_CODE),
                    "author_key": point, "seq": of("int"), "created_at": timestamp,
                    "content": of("object")}, {"prev": of("str", HEX64)})
    content = record["content"]
    kind = content.get("type")
    if kind == "withdrawal":
        fields(content, {"type": of("str"), "withdraws": of("str", HEX64), "reason": of("str")}, {})
    elif kind == "publication":
        period = lambda p: fields(p, {"from": date}, {"to": date})  # noqa: E731
        fields(content,
               {"type": of("str"), "kind": of("str", vocabulary=KINDS), "title": of("str"),
                "language": of("str", LANGUAGE), "factors": list_of("str", vocabulary=FACTORS)},
               {"summary": of("str"), "approaches": list_of("str", vocabulary=APPROACHES),
                "stages": list_of("str", vocabulary=STAGES), "themes": list_of("str", vocabulary=THEMES),
                "tags": list_of("str"), "period": period, "contact_unit": of("str"),
                "related": list_of("str", HEX64), "supersedes": of("str", HEX64), "body": of("str"),
                **{section: of("object") for section in SECTIONS.values()}})
    else:
        raise Malformed(kind)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Malformed(keys)
    return dict(pairs)


def control(c):
    """Unicode category Cc: U+0000-U+001F and U+007F-U+009F."""
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


def date(text):
    """DATE: exactly YYYY-MM-DD, a day of the proleptic Gregorian calendar."""
    typed(text, "str", DATE)
    try:
        datetime.date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        raise Malformed(text) from None


def timestamp(text):
    """created_at: exactly YYYY-MM-DDTHH:MM:SSZ, a real day and time (no leap second)."""
    typed(text, "str", TIME)
    date(text[:10])
    if int(text[11:13]) > 23 or int(text[14:16]) > 59 or int(text[17:19]) > 59:
        raise Malformed(text)


def point(text):
    """author_key: 64 lowercase hex digits that decode to a curve point (RFC 8032 5.1.3)."""
    typed(text, "str", HEX64)
    if ed25519_strict.decompress(bytes.fromhex(text)) is None:
        raise Malformed(text)


def rules(record):
    """Step 8, section 5's field rules: True if they hold."""
    if record["format"] != 1 or not NETWORK_NAME.fullmatch(record["network"]):
        return False
    if not 1 <= record["seq"] <= 2**53 - 1 or ("prev" in record) != (record["seq"] > 1):
        return False
    content = record["content"]
    if content["type"] == "withdrawal":
        return content["reason"].strip() != ""
    title = content["title"]
    if not title.strip() or len(title) > 500 or any(control(c) for c in title):
        return False
    if not content["factors"]:
        return False
    for key in ("factors", "approaches", "stages", "themes", "tags", "related"):
        values = content.get(key, [])
        if len(values) != len(set(values)):
            return False
    if any(not t.strip() or len(t) > 64 or any(control(c) for c in t) for t in content.get("tags", [])):
        return False
    period = content.get("period")
    if period and "to" in period and period["to"] < period["from"]:
        return False
    present = [s for s in SECTIONS.values() if s in content]
    return all(s == SECTIONS[content["kind"]] for s in present)


def classify(envelope, charter_key):
    """Section 2's checks in order: the first failure's label, or None if the record is valid."""
    if len(envelope) > 262144:
        return "too_large"
    if len(envelope) < 4:
        return "truncated"
    if envelope[:3] != b"RIX":
        return "bad_magic"
    if envelope[3] != 1:
        return "unsupported_version"
    if len(envelope) <= 68:
        return "truncated"
    signature, payload = envelope[4:68], envelope[68:]
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return "malformed"
    try:
        record = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        return "truncated" if e.pos >= len(text.rstrip()) else "malformed"
    except Malformed:
        return "malformed"
    try:
        schema(record)
    except Malformed:
        return "malformed"
    if canon(record).encode() != payload:
        return "non_canonical"
    if not rules(record):
        return "invalid_field"
    if record["network"] != NETWORK:
        return "wrong_network"
    if record["author"] not in CHARTER_MEMBERS:
        return "unknown_author"
    if record["author_key"] != charter_key:
        return "key_mismatch"
    if ed25519_strict.verify_strict(bytes.fromhex(record["author_key"]), CONTEXT + payload, signature):
        return "bad_signature"
    return None


def check_charter_vector(v):
    """Section 10: the genesis hash, the amendment's bytes, id and proofs, the approval's
    signature, all recomputed here."""
    name = v["name"]
    charter = json.loads(v["genesis_charter"])
    ordered = dict(charter, members=sorted(charter["members"], key=lambda m: m["code"]))
    if "observers" in ordered:
        ordered["observers"] = sorted(ordered["observers"], key=lambda o: o["peer_id"])
    genesis = hashlib.sha256(b"rix-charter-v1\x00" + canon(ordered).encode()).digest()
    assert genesis.hex() == v["genesis_hash"], f"{name}: genesis hash"
    amendment = bytes.fromhex(v["amendment_hex"])
    assert amendment[:5] == b"RIXM\x01" and amendment[5:] == v["amendment"].encode(), f"{name}: amendment bytes"
    body = json.loads(amendment[5:])
    assert canon(body).encode() == amendment[5:], f"{name}: amendment not canonical"
    assert body["genesis"] == body["amends"] == genesis.hex(), f"{name}: amends the genesis"
    assert hashlib.sha256(amendment).hexdigest() == v["amendment_id"], f"{name}: amendment id"
    for change in body["changes"]:
        if change["type"] in ("admit", "rotate_key"):
            key = bytes.fromhex(change["public_key"])
            message = b"rix-key-proof-v1\x00" + genesis + change["code"].encode() + b"\x00" + key
            assert ed25519_strict.verify_strict(key, message, bytes.fromhex(change["proof"])) is None, f"{name}: proof"
    approval = bytes.fromhex(v["approval_hex"])
    assert approval[:5] == b"RIXV\x01", f"{name}: approval magic"
    signature, payload = approval[5:69], approval[69:]
    ap = json.loads(payload)
    assert canon(ap).encode() == payload, f"{name}: approval not canonical"
    assert ap["amendment"] == v["amendment_id"], f"{name}: approval names the amendment"
    members = {m["code"]: m["public_key"] for m in charter["members"]}
    assert members[ap["approver"]] == ap["key"], f"{name}: the approver's key in the amended version"
    assert ed25519_strict.verify_strict(bytes.fromhex(ap["key"]), b"rix-approval-v1\x00" + payload, signature) is None
    assert hashlib.sha256(approval).hexdigest() == v["approval_id"], f"{name}: approval id"


def genesis_hash_of(charter):
    ordered = dict(charter, members=sorted(charter["members"], key=lambda m: m["code"]))
    if "observers" in ordered:
        ordered["observers"] = sorted(ordered["observers"], key=lambda o: o["peer_id"])
    return hashlib.sha256(b"rix-charter-v1\x00" + canon(ordered).encode()).hexdigest()


def read_item(item):
    """An amendment (its id, body) or an approval (its body), checked as section 10 says."""
    if item[:5] == b"RIXM\x01":
        body = json.loads(item[5:])
        assert canon(body).encode() == item[5:], "amendment not canonical"
        for change in body["changes"]:
            if change["type"] in ("admit", "rotate_key") and "proof" in change:
                key = bytes.fromhex(change["public_key"])
                message = (b"rix-key-proof-v1\x00" + bytes.fromhex(body["amends"]) + change["code"].encode()
                           + b"\x00" + key)
                assert ed25519_strict.verify_strict(key, message, bytes.fromhex(change["proof"])) is None, "proof"
        return "amendment", hashlib.sha256(item).hexdigest(), body
    assert item[:5] == b"RIXV\x01", "neither an amendment nor an approval"
    signature, payload = item[5:69], item[69:]
    body = json.loads(payload)
    assert canon(body).encode() == payload, "approval not canonical"
    key = bytes.fromhex(body["key"])
    assert ed25519_strict.verify_strict(key, b"rix-approval-v1\x00" + payload, signature) is None, "approval signature"
    return "approval", hashlib.sha256(item).hexdigest(), body


class Refused(Exception):
    pass


def apply_changes(state, changes):
    """Section 10.4: the next state, or Refused with the label."""
    members = {c: dict(m) for c, m in state["members"].items()}
    observers = dict(state["observers"])
    retired = [dict(r) for r in state["retired"]]
    threshold = state["threshold"]
    if not changes:
        raise Refused("empty")

    def key_used(k):
        return any(m["public_key"] == k for m in members.values()) or any(r["public_key"] == k for r in retired)

    def peer_used(p, own=None):
        return p and ((any(m.get("peer_id") == p for c, m in members.items() if c != own)) or p in observers)

    for c in changes:
        t = c["type"]
        if t == "admit":
            if c["code"] in members:
                raise Refused("duplicate_code")
            if any(r["code"] == c["code"] for r in retired):
                raise Refused("duplicate_code")
            if not c["name"].strip():
                raise Refused("bad_field")
            if key_used(c["public_key"]):
                raise Refused("key_in_use")
            if peer_used(c.get("peer_id", "")):
                raise Refused("peer_id_in_use")
            members[c["code"]] = {"public_key": c["public_key"], "peer_id": c.get("peer_id", "")}
        elif t == "remove":
            if c["code"] not in members:
                raise Refused("unknown_member")
            if (c["after_seq"] == 0) != ("last_id" not in c):
                raise Refused("bad_revocation")
            m = members.pop(c["code"])
            if not any(r["code"] == c["code"] and r["public_key"] == m["public_key"] for r in retired):
                retired.append({"code": c["code"], "public_key": m["public_key"], "why": "removed"})
        elif t == "rotate_key":
            if key_used(c["public_key"]):
                raise Refused("key_in_use")
            if c["code"] not in members:
                raise Refused("unknown_member")
            old = members[c["code"]]["public_key"]
            members[c["code"]]["public_key"] = c["public_key"]
            if not any(r["code"] == c["code"] and r["public_key"] == old for r in retired):
                retired.append({"code": c["code"], "public_key": old, "why": "rotated"})
        elif t == "revoke_key":
            if (c["after_seq"] == 0) != ("last_id" not in c):
                raise Refused("bad_revocation")
            held = [r for r in retired if r["code"] == c["code"] and r["public_key"] == c["public_key"]]
            if held and held[0]["why"] == "revoked":
                raise Refused("bad_revocation")
            if held:
                held[0]["why"] = "revoked"
            elif c["code"] in members and members[c["code"]]["public_key"] == c["public_key"]:
                retired.append({"code": c["code"], "public_key": c["public_key"], "why": "revoked"})
            else:
                raise Refused("bad_revocation")
        elif t == "set_node":
            if peer_used(c["peer_id"], own=c["code"]):
                raise Refused("peer_id_in_use")
            if c["code"] not in members:
                raise Refused("unknown_member")
            members[c["code"]]["peer_id"] = c["peer_id"]
        elif t == "add_observer":
            if not c["peer_id"] or not c["name"].strip():
                raise Refused("bad_field")
            if peer_used(c["peer_id"]):
                raise Refused("peer_id_in_use")
            observers[c["peer_id"]] = c["name"]
        elif t == "remove_observer":
            if c["peer_id"] not in observers:
                raise Refused("unknown_observer")
            del observers[c["peer_id"]]
        elif t == "set_threshold":
            if c["threshold"]["rule"] == "fixed" and c["threshold"]["count"] == 0:
                raise Refused("bad_threshold")
            threshold = c["threshold"]
        else:
            raise Refused("unknown change " + t)
    if not members:
        raise Refused("no_member_left")
    if threshold["rule"] == "fixed" and threshold["count"] > len(members):
        raise Refused("bad_threshold")
    return {"members": members, "observers": observers, "retired": retired, "threshold": threshold}


def needed(state):
    if state["threshold"]["rule"] == "fixed":
        return state["threshold"]["count"]
    return len(state["members"]) // 2 + 1


def approver_key(state, code):
    m = state["members"].get(code)
    if m is None:
        return None
    revoked = any(r["code"] == code and r["public_key"] == m["public_key"] and r["why"] == "revoked"
                  for r in state["retired"])
    return None if revoked else m["public_key"]


def check_chain_vector(v):
    """Section 10.4's application rule, from the items alone: the versions must be the vector's."""
    name = v["name"]
    charter = json.loads(v["genesis_charter"])
    genesis = genesis_hash_of(charter)
    assert genesis == v["genesis_hash"], f"{name}: genesis hash"
    amendments, approvals = {}, {}
    for item in (bytes.fromhex(h) for h in v["items"].split(",")):
        kind, item_id, body = read_item(item)
        if kind == "amendment":
            assert body["network"] == charter["network"] and body["genesis"] == genesis, f"{name}: amendment"
            amendments[item_id] = body
        else:
            approvals.setdefault(body["amendment"], set()).add((body["approver"], body["key"]))
    state = {"members": {m["code"]: {"public_key": m["public_key"], "peer_id": m.get("peer_id", "")}
                         for m in charter["members"]},
             "observers": {}, "retired": [], "threshold": charter.get("threshold", {"rule": "majority"})}
    versions = [(1, genesis, state)]
    while True:
        number, current, state = versions[-1]
        winner = None
        for item_id in sorted(i for i, b in amendments.items() if b["amends"] == current):
            try:
                nxt = apply_changes(state, amendments[item_id]["changes"])
            except Refused:
                continue
            counted = {code for code, key in approvals.get(item_id, ()) if approver_key(state, code) == key}
            if len(counted) >= needed(state):
                winner = (item_id, nxt)
                break
        if winner is None:
            break
        versions.append((number + 1, winner[0], winner[1]))
    got = [{"version": n, "hash": h, "members": {c: m["public_key"] for c, m in s["members"].items()},
            "threshold": needed(s)} for n, h, s in versions]
    assert got == json.loads(v["versions"]), f"{name}: the chain differs:\n{got}"


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
    assert n == 4, f"expected 4 valid vectors, found {n}"
    labels = set()
    for v in vectors(doc, "```rix-invalid-vector"):
        envelope = bytes.fromhex(v["envelope_hex"])
        if "pad_to" in v:
            envelope += b" " * (int(v["pad_to"]) - len(envelope))
        got = classify(envelope, v["charter_key"])
        assert got == v["expect"], f"{v['name']}: expected {v['expect']}, this check says {got}"
        labels.add(got)
        n += 1
    charters = 0
    for v in vectors(doc, "```rix-charter-vector"):
        check_charter_vector(v)
        charters += 1
    assert charters >= 1, "no charter vector (section 10)"
    n += charters
    chains = 0
    for v in vectors(doc, "```rix-chain-vector"):
        check_chain_vector(v)
        chains += 1
    assert chains >= 1, "no chain vector (section 10.7)"
    n += chains
    missing = set(LABELS) - labels
    assert not missing, f"no invalid vector for {sorted(missing)}"
    print(f"{n} passed, 0 failed ({len(labels)} failure labels covered)")


if __name__ == "__main__":
    sys.exit(main())
