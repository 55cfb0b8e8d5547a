"""Runs py-libp2p's default pubsub signature check (strict signing) on every gossip message that
the js-libp2p observer received from a rix node, relayed ones included: the messages exactly as
a rix node forwards them. See tests/interop/README.md.

    RIX_INTEROP_DUMP=/tmp/events.jsonl cargo test -p rix-tests --test interop_js
    python -m venv /tmp/py && /tmp/py/bin/pip install libp2p==0.8.1
    /tmp/py/bin/python tests/interop/py-check-signatures.py /tmp/events.jsonl
"""
import json, sys
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.validators import signature_validator
ok = bad = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") != "record" or e.get("via") != "gossip":
        continue
    w = e["wire"]
    msg = rpc_pb2.Message(from_id=bytes.fromhex(w["from"]), data=bytes.fromhex(w["data"]), seqno=bytes.fromhex(w["seqno"]),
                          topicIDs=[w["topic"]], signature=bytes.fromhex(w["signature"]))
    valid = signature_validator(msg)
    # A tampered copy must fail, or the check proves nothing.
    msg.data = msg.data + b" "
    assert not signature_validator(msg)
    ok += valid; bad += not valid
    print(e["author"], "relayed" if e["relayed"] else "direct ", "py-libp2p signature_validator:", valid)
print(f"accepted {ok}, refused {bad}")
sys.exit(1 if bad or not ok else 0)
