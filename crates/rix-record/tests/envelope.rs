//! Verification of signed envelopes: every rejection has its own error, and the property tests
//! show that encoding is stable and that no byte of a signed record can change unnoticed.

use proptest::prelude::*;
use rix_record::content::{Content, Publication, Withdrawal};
use rix_record::envelope::{MAX_RECORD_BYTES, SignedRecord, VerifyError};
use rix_record::{Author, Charter, CharterMember, KeyFactor, Kind, MemberKey, Timestamp};

const NETWORK: &str = "almaty-test";

fn key(seed: u8) -> MemberKey {
    MemberKey::from_seed(&[seed; 32])
}

fn charter() -> Charter {
    let mut c = Charter::new(NETWORK);
    for (code, seed) in [("KZ", 1), ("JP", 2)] {
        c.upsert_member(CharterMember {
            code: code.parse().unwrap(),
            name: code.into(),
            public_key: key(seed).author_key(),
            peer_id: String::new(),
            addresses: vec![],
        });
    }
    c
}

fn publication(title: &str, body: &str) -> Content {
    let mut p = Publication::new(Kind::BestPractice, title, "en".parse().unwrap(), vec![KeyFactor::Transparency]);
    p.body = body.to_owned();
    Content::Publication(Box::new(p))
}

fn at() -> Timestamp {
    "2026-11-28T06:52:03Z".parse().unwrap()
}

fn kz() -> Author {
    Author::new(NETWORK, "KZ".parse().unwrap(), key(1))
}

#[test]
fn a_signed_record_verifies_and_keeps_its_id() {
    let r = kz().sign_next(None, publication("Hotline", "Body"), at()).unwrap();
    let again = r.signed().verify(&charter()).unwrap();
    assert_eq!(again.id(), r.id());
    assert_eq!(again.record(), r.record());
}

#[test]
fn a_flipped_byte_is_rejected() {
    let r = kz().sign_next(None, publication("Hotline", "Body"), at()).unwrap();
    let mut bytes = r.bytes().to_vec();
    let last = bytes.len() - 3; // inside the payload's JSON text
    bytes[last] ^= 0x01;
    let err = SignedRecord::from_bytes(bytes).verify(&charter()).unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature | VerifyError::Malformed(_) | VerifyError::NonCanonical), "{err}");

    let mut bytes = r.bytes().to_vec();
    bytes[10] ^= 0x80; // inside the signature
    assert_eq!(SignedRecord::from_bytes(bytes).verify(&charter()).unwrap_err(), VerifyError::BadSignature);
}

#[test]
fn a_non_member_author_is_rejected() {
    let outsider = Author::new(NETWORK, "XX".parse().unwrap(), key(9));
    let r = outsider.sign_next(None, publication("Fake", ""), at()).unwrap();
    assert_eq!(r.signed().verify(&charter()).unwrap_err(), VerifyError::UnknownAuthor("XX".parse().unwrap()));
}

#[test]
fn a_record_claiming_another_members_authorship_is_rejected() {
    // Signed with JP's key but naming KZ as author.
    let impostor = Author::new(NETWORK, "KZ".parse().unwrap(), key(2));
    let r = impostor.sign_next(None, publication("Fake", ""), at()).unwrap();
    assert_eq!(r.signed().verify(&charter()).unwrap_err(), VerifyError::KeyMismatch("KZ".parse().unwrap()));
}

#[test]
fn another_networks_record_is_rejected() {
    let r =
        Author::new("other-net", "KZ".parse().unwrap(), key(1)).sign_next(None, publication("x", ""), at()).unwrap();
    assert!(matches!(r.signed().verify(&charter()).unwrap_err(), VerifyError::WrongNetwork { .. }));
}

#[test]
fn truncated_records_are_rejected() {
    let r = kz().sign_next(None, publication("Hotline", "Body"), at()).unwrap();
    for len in [0, 3, 40, 68, 69, r.bytes().len() - 1] {
        let err = SignedRecord::from_bytes(&r.bytes()[..len]).verify(&charter()).unwrap_err();
        assert!(matches!(err, VerifyError::Truncated(_)), "len {len}: {err}");
    }
}

#[test]
fn oversized_records_are_rejected_on_both_sides() {
    let huge = "x".repeat(MAX_RECORD_BYTES);
    let err = kz().sign_next(None, publication("Big", &huge), at()).unwrap_err();
    assert!(err.to_string().contains("over the 262144-byte limit"), "{err}");

    let mut bytes = vec![0u8; MAX_RECORD_BYTES + 1];
    bytes[..4].copy_from_slice(b"RIX\x01");
    assert!(matches!(SignedRecord::from_bytes(bytes).verify(&charter()).unwrap_err(), VerifyError::TooLarge { .. }));
}

#[test]
fn non_canonical_encodings_are_rejected_even_with_a_valid_signature() {
    // Re-sign a payload with extra whitespace: the signature is good, the bytes are not canonical.
    let r = kz().sign_next(None, publication("Hotline", "Body"), at()).unwrap();
    let payload = std::str::from_utf8(&r.bytes()[68..]).unwrap().replacen(',', ", ", 1);
    let sig = key(1).sign(&rix_record::envelope::signing_input(payload.as_bytes()));
    let mut bytes = b"RIX\x01".to_vec();
    bytes.extend_from_slice(&sig.to_bytes());
    bytes.extend_from_slice(payload.as_bytes());
    assert_eq!(SignedRecord::from_bytes(bytes).verify(&charter()).unwrap_err(), VerifyError::NonCanonical);
}

#[test]
fn bad_magic_and_versions_are_named() {
    let r = kz().sign_next(None, publication("Hotline", ""), at()).unwrap();
    let mut bytes = r.bytes().to_vec();
    bytes[3] = 2;
    assert_eq!(
        SignedRecord::from_bytes(bytes.clone()).verify(&charter()).unwrap_err(),
        VerifyError::UnsupportedVersion(2)
    );
    bytes[0] = b'{';
    assert_eq!(SignedRecord::from_bytes(bytes).verify(&charter()).unwrap_err(), VerifyError::BadMagic);
}

#[test]
fn chains_link_each_record_to_the_previous() {
    let a = kz();
    let r1 = a.sign_next(None, publication("One", ""), at()).unwrap();
    let w = Content::Withdrawal(Withdrawal { withdraws: r1.id(), reason: "replaced".into() });
    let r2 = a.sign_next(Some(r1.as_head()), w, at()).unwrap();
    assert_eq!((r2.record().seq, r2.record().prev), (2, Some(r1.id())));
    r2.signed().verify(&charter()).unwrap();
}

fn arb_text() -> impl Strategy<Value = String> {
    // Any Unicode, including control characters, quotes and scripts beyond the BMP.
    proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn encode_decode_encode_is_byte_identical(title in arb_text(), body in arb_text(), tags in proptest::collection::vec("[a-z]{1,10}", 0..4), seq in 1u64..1000) {
        let mut p = Publication::new(Kind::CaseStudy, format!("t{}", title.replace(|c: char| c.is_control(), "")), "ru".parse().unwrap(), vec![KeyFactor::Hrm]);
        p.body = body;
        let mut tags = tags;
        tags.sort();
        tags.dedup();
        p.tags = tags;
        let head = (seq > 1).then(|| rix_record::ChainHead { seq: seq - 1, id: rix_record::RecordId::of_envelope(b"prev") });
        let r = kz().sign_next(head, Content::Publication(Box::new(p)), at()).unwrap();
        let (decoded, _) = r.signed().decode().unwrap();
        let reencoded = rix_record::envelope::encode_payload(&decoded).unwrap();
        prop_assert_eq!(&reencoded[..], &r.bytes()[68..]);
        prop_assert_eq!(r.signed().verify(&charter()).unwrap().id(), r.id());
    }

    #[test]
    fn any_mutation_of_signed_bytes_fails_verification(pos in any::<prop::sample::Index>(), flip in 1u8..=255, body in arb_text()) {
        let r = kz().sign_next(None, publication("Hotline", &body), at()).unwrap();
        let mut bytes = r.bytes().to_vec();
        let i = pos.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(SignedRecord::from_bytes(bytes).verify(&charter()).is_err());
    }

    #[test]
    fn truncation_and_extension_fail_verification(cut in 1usize..200, extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let r = kz().sign_next(None, publication("Hotline", "body"), at()).unwrap();
        let len = r.bytes().len().saturating_sub(cut);
        prop_assert!(SignedRecord::from_bytes(&r.bytes()[..len]).verify(&charter()).is_err());
        let mut longer = r.bytes().to_vec();
        longer.extend_from_slice(&extra);
        prop_assert!(SignedRecord::from_bytes(longer).verify(&charter()).is_err());
    }
}

#[test]
fn batch_verification_agrees_with_single_verification_and_pins_down_each_bad_record() {
    let author = kz();
    let mut head = None;
    let mut batch: Vec<SignedRecord> = (0..40)
        .map(|i| {
            let r = author.sign_next(head, publication(&format!("r{i}"), "body"), at()).unwrap();
            head = Some(r.as_head());
            r.signed()
        })
        .collect();
    let all_good = rix_record::verify_batch(&batch, &charter());
    assert!(all_good.iter().all(Result::is_ok));
    for (signed, verified) in batch.iter().zip(&all_good) {
        assert_eq!(verified.as_ref().unwrap().id(), signed.id());
    }

    // A broken signature, a foreign author and garbage among good records: exactly those fail,
    // each with the reason single verification gives.
    let mut flipped = batch[7].bytes().to_vec();
    flipped[10] ^= 1;
    batch[7] = SignedRecord::from_bytes(flipped);
    batch[20] = Author::new(NETWORK, "KZ".parse().unwrap(), key(99))
        .sign_next(None, publication("impostor", "b"), at())
        .unwrap()
        .signed();
    batch[33] = SignedRecord::from_bytes(b"RIX\x01 not a record".to_vec());
    let mixed = rix_record::verify_batch(&batch, &charter());
    for (i, (signed, outcome)) in batch.iter().zip(&mixed).enumerate() {
        let single = signed.verify(&charter());
        assert_eq!(outcome.is_ok(), single.is_ok(), "record {i}");
        if let (Err(a), Err(b)) = (outcome, &single) {
            assert_eq!(a.reason(), b.reason(), "record {i}");
        }
    }
    assert_eq!(mixed.iter().filter(|r| r.is_err()).count(), 3);
}
