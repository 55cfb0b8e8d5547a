//! Checks the test vectors in `docs/record-format.md` against this implementation: the key
//! derived from the seed, the canonical payload, the deterministic signature, the envelope,
//! the id, and verification under a charter.

use rix_record::envelope::{SignedRecord, encode_payload, signing_input};
use rix_record::{Charter, CharterMember, MemberKey, RecordId};

fn vectors() -> Vec<std::collections::HashMap<String, String>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/record-format.md")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<std::collections::HashMap<String, String>> = None;
    for line in doc.lines() {
        match (line, current.as_mut()) {
            ("```rix-vector", None) => current = Some(Default::default()),
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
    assert_eq!(vectors.len(), 3, "docs/record-format.md should hold three vectors");
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
