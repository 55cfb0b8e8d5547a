use super::*;
use crate::content::Publication;
use crate::{Author, Content, KeyFactor, Kind, MemberKey, RecordId, VerifiedRecord, VerifyError};

const NETWORK: &str = "almaty-test";
const PEER: &str = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";
const OTHER_PEER: &str = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";

fn key(seed: u8) -> MemberKey {
    MemberKey::from_seed(&[seed; 32])
}

fn code(c: &str) -> MemberCode {
    c.parse().unwrap()
}

fn genesis() -> CharterState {
    let mut charter = Charter::new(NETWORK);
    for (i, c) in ["KZ", "JP", "MN"].iter().enumerate() {
        charter.upsert_member(CharterMember {
            code: code(c),
            name: format!("Customs {c}"),
            public_key: key(i as u8 + 1).author_key(),
            peer_id: if *c == "KZ" { PEER.into() } else { String::new() },
            addresses: vec![],
        });
    }
    CharterState::genesis(charter)
}

fn admit(c: &str, seed: u8) -> Change {
    Change::Admit {
        code: code(c),
        name: format!("Customs {c}"),
        public_key: key(seed).author_key(),
        peer_id: String::new(),
        addresses: vec![],
        proof: None,
    }
}

fn refusal(state: &CharterState, changes: &[Change]) -> (Option<usize>, &'static str) {
    let refused = state.apply(changes).unwrap_err();
    (refused.index, refused.label())
}

/// Records 1..=n of KZ signed with `signer`.
fn kz_records(signer: u8, n: u64) -> Vec<VerifiedRecord> {
    kz_titled("KZ", signer, n)
}

fn kz_titled(title: &str, signer: u8, n: u64) -> Vec<VerifiedRecord> {
    let author = Author::new(NETWORK, code("KZ"), key(signer));
    let mut head = None;
    (1..=n)
        .map(|i| {
            let p = Publication::new(
                Kind::BestPractice,
                format!("{title} {i}"),
                "en".parse().unwrap(),
                vec![KeyFactor::Transparency],
            );
            let r = author
                .sign_next(head, Content::Publication(Box::new(p)), "2026-12-03T10:00:00Z".parse().unwrap())
                .unwrap();
            head = Some(r.as_head());
            r
        })
        .collect()
}

fn verdicts(records: &[VerifiedRecord], charter: &Charter) -> Vec<&'static str> {
    records.iter().map(|r| r.signed().verify(charter).map_or_else(|e| e.reason(), |_| "ok")).collect()
}

#[test]
fn an_admission_names_a_new_code_an_unused_key_and_an_unused_peer_id() {
    let g = genesis();
    let v2 = g.apply(&[admit("TJ", 9)]).unwrap();
    assert_eq!((v2.version, v2.joined[&code("TJ")], v2.charter.members.len()), (2, 2, 4));
    assert_eq!(v2.charter.needed(), 3);
    assert_eq!(refusal(&g, &[admit("KZ", 9)]), (Some(0), "duplicate_code"));
    assert_eq!(refusal(&g, &[admit("TJ", 2)]), (Some(0), "key_in_use"));
    let mut taken = admit("TJ", 9);
    if let Change::Admit { peer_id, .. } = &mut taken {
        *peer_id = PEER.into();
    }
    assert_eq!(refusal(&g, &[taken]), (Some(0), "peer_id_in_use"));
    // Whole or nothing: the second change is refused, so the first does not happen either.
    assert_eq!(refusal(&g, &[admit("TJ", 9), admit("TJ", 10)]), (Some(1), "duplicate_code"));
    assert_eq!(refusal(&g, &[]), (None, "empty"));
}

#[test]
fn a_removed_members_records_stay_valid_up_to_the_cut_off_and_its_code_and_key_are_never_reused() {
    let records = kz_records(1, 4);
    let g = genesis();
    let removal = Change::Remove { code: code("KZ"), after_seq: 3, last_id: Some(records[2].id()) };
    let v2 = g.apply(&[removal]).unwrap();
    assert!(v2.charter.member(&code("KZ")).is_none());
    assert_eq!(verdicts(&records, &v2.charter), ["ok", "ok", "ok", "key_retired"]);
    assert_eq!(refusal(&v2, &[admit("KZ", 20)]), (Some(0), "duplicate_code"));
    assert_eq!(refusal(&v2, &[admit("TJ", 1)]), (Some(0), "key_in_use"));
    // The cut-off names its record: a fork at seq 3 with another id is refused.
    let fork = kz_titled("Fork", 1, 3);
    assert_eq!(verdicts(&fork, &v2.charter), ["ok", "ok", "key_retired"]);
    let bad = Change::Remove { code: code("KZ"), after_seq: 3, last_id: None };
    assert_eq!(refusal(&g, &[bad]), (Some(0), "bad_revocation"));
    let none = Change::Remove { code: code("JP"), after_seq: 0, last_id: Some(RecordId::of_envelope(b"x")) };
    assert_eq!(refusal(&g, &[none]), (Some(0), "bad_revocation"));
}

#[test]
fn a_revoked_key_approves_nothing_and_signs_nothing_after_its_cut_off_until_a_new_key_is_installed() {
    let stolen = kz_records(1, 5);
    let g = genesis();
    let revoke = Change::RevokeKey {
        code: code("KZ"),
        public_key: key(1).author_key(),
        after_seq: 2,
        last_id: Some(stolen[1].id()),
    };
    let v2 = g.apply(std::slice::from_ref(&revoke)).unwrap();
    assert_eq!(v2.approver_key(&code("KZ")), None);
    assert_eq!(v2.approver_key(&code("JP")), Some(&key(2).author_key()));
    assert_eq!(verdicts(&stolen, &v2.charter), ["ok", "ok", "key_retired", "key_retired", "key_retired"]);
    assert_eq!(refusal(&v2, std::slice::from_ref(&revoke)), (Some(0), "bad_revocation"));
    let rotate = Change::RotateKey { code: code("KZ"), public_key: key(11).author_key(), proof: String::new() };
    let v3 = v2.apply(&[rotate]).unwrap();
    assert_eq!(v3.approver_key(&code("KZ")), Some(&key(11).author_key()));
    // The revocation's cut-off survives the rotation.
    assert_eq!(verdicts(&stolen, &v3.charter), ["ok", "ok", "key_retired", "key_retired", "key_retired"]);
    let other = Change::RevokeKey { code: code("JP"), public_key: key(1).author_key(), after_seq: 0, last_id: None };
    assert_eq!(refusal(&v3, &[other]), (Some(0), "bad_revocation"));
    assert!(matches!(
        stolen[4].signed().verify(&v3.charter),
        Err(VerifyError::KeyRetired { seq: 5, after_seq: 2, .. })
    ));
}

#[test]
fn thresholds_nodes_and_observers_follow_their_rules() {
    let g = genesis();
    let fixed = |count| Change::SetThreshold { threshold: ThresholdRule::Fixed { count } };
    assert_eq!(g.apply(&[fixed(3)]).unwrap().charter.needed(), 3);
    assert_eq!(refusal(&g, &[fixed(4)]), (None, "bad_threshold"));
    assert_eq!(refusal(&g, &[fixed(0)]), (Some(0), "bad_threshold"));
    // A removal that leaves the fixed threshold out of reach is refused at the end.
    let v2 = g.apply(&[fixed(3)]).unwrap();
    let remove_mn = Change::Remove { code: code("MN"), after_seq: 0, last_id: None };
    assert_eq!(refusal(&v2, std::slice::from_ref(&remove_mn)), (None, "bad_threshold"));
    assert!(v2.apply(&[remove_mn, fixed(2)]).is_ok());
    let everyone: Vec<Change> =
        ["KZ", "JP", "MN"].iter().map(|c| Change::Remove { code: code(c), after_seq: 0, last_id: None }).collect();
    assert_eq!(refusal(&g, &everyone), (None, "no_member_left"));

    let set_node = |c: &str, peer: &str| Change::SetNode { code: code(c), peer_id: peer.into(), addresses: vec![] };
    assert!(g.apply(&[set_node("KZ", PEER)]).is_ok(), "a member keeps its own peer id");
    assert_eq!(refusal(&g, &[set_node("JP", PEER)]), (Some(0), "peer_id_in_use"));
    assert_eq!(refusal(&g, &[set_node("TJ", OTHER_PEER)]), (Some(0), "unknown_member"));
    assert_eq!(refusal(&g, &[set_node("JP", "not-a-peer")]), (Some(0), "bad_field"));

    let observer = Change::AddObserver { peer_id: OTHER_PEER.into(), name: "WCO RILO".into(), addresses: vec![] };
    let v2 = g.apply(std::slice::from_ref(&observer)).unwrap();
    assert!(v2.charter.admits_peer(OTHER_PEER));
    assert_eq!(refusal(&v2, &[observer]), (Some(0), "peer_id_in_use"));
    let remove = Change::RemoveObserver { peer_id: OTHER_PEER.into() };
    assert!(!v2.apply(std::slice::from_ref(&remove)).unwrap().charter.admits_peer(OTHER_PEER));
    assert_eq!(refusal(&g, &[remove]), (Some(0), "unknown_observer"));
}
