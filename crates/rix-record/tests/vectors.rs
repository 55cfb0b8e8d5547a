//! Checks the test vectors in `docs/record-format.md` against this implementation: the key
//! derived from the seed, the canonical payload, the deterministic signature, the envelope,
//! the id, and verification under a charter.

use rix_record::envelope::{SignedRecord, encode_payload, signing_input};
use rix_record::{Charter, CharterMember, MemberKey, RecordId};

fn vectors() -> Vec<std::collections::HashMap<String, String>> {
    blocks("```rix-vector")
}

/// The blocks of docs/record-format.md that open with `fence`, as key-value maps.
fn blocks(fence: &str) -> Vec<std::collections::HashMap<String, String>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/record-format.md")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<std::collections::HashMap<String, String>> = None;
    for line in doc.lines() {
        match (line, current.as_mut()) {
            (l, None) if l == fence => current = Some(Default::default()),
            ("```", Some(_)) => out.push(current.take().unwrap()),
            (l, Some(v)) => {
                let (k, val) = l.split_once(": ").expect("key: value");
                v.insert(k.to_owned(), val.to_owned());
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_documented_vectors_match_the_implementation() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 4, "docs/record-format.md should hold four valid vectors");
    for v in vectors {
        let name = &v["name"];
        let seed: [u8; 32] = hex::decode(&v["seed"]).unwrap().try_into().unwrap();
        let key = MemberKey::from_seed(&seed);
        assert_eq!(key.author_key().to_string(), v["author_key"], "{name}: key");

        let payload = hex::decode(&v["payload_hex"]).unwrap();
        assert_eq!(payload, v["payload"].as_bytes(), "{name}: payload text and hex differ");
        let signature = key.sign(&signing_input(&payload));
        assert_eq!(hex::encode(signature.to_bytes()), v["signature"], "{name}: signature");

        let envelope = hex::decode(&v["envelope_hex"]).unwrap();
        assert_eq!(&envelope[..4], b"RIX\x01");
        assert_eq!(&envelope[4..68], &signature.to_bytes()[..]);
        assert_eq!(&envelope[68..], &payload[..]);
        assert_eq!(RecordId::of_envelope(&envelope).to_hex(), v["id"], "{name}: id");

        let mut charter = Charter::new("almaty-integrity");
        charter.upsert_member(CharterMember {
            code: "KZ".parse().unwrap(),
            name: "Kazakhstan".into(),
            public_key: key.author_key(),
            peer_id: String::new(),
            addresses: vec![],
        });
        let verified = SignedRecord::from_bytes(envelope).verify(&charter).unwrap();
        assert_eq!(encode_payload(verified.record()).unwrap(), payload, "{name}: canonical re-encoding");
    }
}

/// A charter for `almaty-integrity` whose only member, KZ, has `key` (64 hex digits).
fn charter_with(key: &str) -> Charter {
    let mut charter = Charter::new("almaty-integrity");
    charter.upsert_member(CharterMember {
        code: "KZ".parse().unwrap(),
        name: "Kazakhstan".into(),
        public_key: key.parse().unwrap(),
        peer_id: String::new(),
        addresses: vec![],
    });
    charter
}

#[test]
fn every_invalid_vector_is_refused_with_its_label_alone_and_in_any_batch() {
    let invalid = blocks("```rix-invalid-vector");
    assert!(invalid.len() >= 20, "docs/record-format.md holds {} invalid vectors", invalid.len());
    let labels: std::collections::BTreeSet<&str> = invalid.iter().map(|v| v["expect"].as_str()).collect();
    for label in [
        "too_large",
        "truncated",
        "bad_magic",
        "unsupported_version",
        "malformed",
        "non_canonical",
        "invalid_field",
        "wrong_network",
        "unknown_author",
        "key_mismatch",
        "bad_signature",
    ] {
        assert!(labels.contains(label), "no invalid vector for {label}");
    }
    // Valid records to batch the invalid ones with: the first valid vector's key signs them.
    let key = MemberKey::from_seed(&hex::decode(&vectors()[0]["seed"]).unwrap().try_into().unwrap());
    let author = rix_record::Author::new("almaty-integrity", "KZ".parse().unwrap(), key);
    let mut head = None;
    let honest: Vec<SignedRecord> = (0..63)
        .map(|i| {
            let content = rix_record::Content::Publication(Box::new(rix_record::content::Publication::new(
                rix_record::Kind::BestPractice,
                format!("record {i}"),
                "en".parse().unwrap(),
                vec![rix_record::KeyFactor::Transparency],
            )));
            let r = author.sign_next(head, content, rix_record::Timestamp::now()).unwrap();
            head = Some(r.as_head());
            r.signed()
        })
        .collect();
    for v in &invalid {
        let name = &v["name"];
        let mut envelope = hex::decode(&v["envelope_hex"]).unwrap();
        if let Some(pad_to) = v.get("pad_to") {
            envelope.resize(pad_to.parse().unwrap(), b' ');
        }
        let charter = charter_with(&v["charter_key"]);
        let signed = SignedRecord::from_bytes(envelope);
        let refused = signed.verify(&charter).expect_err(name);
        assert_eq!(refused.reason(), v["expect"], "{name}: {refused}");
        // In a batch, at every position, it gets the same answer, and the others stay valid:
        // a replica's answer must not depend on what a record arrived with.
        if v["charter_key"] == author.key().author_key().to_string() {
            for at in [0, 17, 63] {
                let mut batch = honest.clone();
                batch.insert(at, signed.clone());
                let results = rix_record::verify_batch(&batch, &charter);
                for (i, result) in results.iter().enumerate() {
                    if i == at {
                        assert_eq!(
                            result.as_ref().map(|_| ()).unwrap_err().reason(),
                            v["expect"],
                            "{name} at {at} in a batch"
                        );
                    } else {
                        assert!(result.is_ok(), "{name}: honest record {i} of the batch refused");
                    }
                }
            }
        }
    }
}

#[test]
fn the_charter_vectors_read_back_with_their_ids() {
    use rix_record::amendment::{Amendment, Approval};
    let vectors = blocks("```rix-charter-vector");
    assert!(!vectors.is_empty(), "docs/record-format.md section 10 holds a charter vector");
    for v in vectors {
        let name = &v["name"];
        let charter: Charter = serde_json::from_str(&v["genesis_charter"]).unwrap();
        assert_eq!(charter.genesis_hash().to_hex(), v["genesis_hash"], "{name}: genesis hash");
        let amendment = Amendment::from_bytes(&hex::decode(&v["amendment_hex"]).unwrap()).expect(name);
        assert_eq!(amendment.id.to_hex(), v["amendment_id"], "{name}: amendment id");
        assert_eq!(amendment.body.amends, charter.genesis_hash());
        // Written by this implementation, the same body gives the same bytes.
        assert_eq!(Amendment::new(amendment.body.clone()).bytes, amendment.bytes, "{name}: canonical bytes");
        let approval = Approval::from_bytes(&hex::decode(&v["approval_hex"]).unwrap()).expect(name);
        assert_eq!(approval.id.to_hex(), v["approval_id"], "{name}: approval id");
        assert_eq!(approval.body.amendment, amendment.id);
        let member = charter.member(&approval.body.approver).expect("the approver is a member");
        assert_eq!(member.public_key, approval.body.key, "{name}: the approver's key");
    }
}
