use rix_record::content::Publication;
use rix_record::{Author, CharterMember, Content, KeyFactor, Kind};
use rix_store::ReplicaOptions;

use super::*;

const NETWORK: &str = "almaty-test";
const TJ_PEER: &str = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";

fn key(seed: u8) -> MemberKey {
    MemberKey::from_seed(&[seed; 32])
}

fn code(c: &str) -> MemberCode {
    c.parse().unwrap()
}

const MEMBERS: [(&str, u8); 3] = [("KZ", 1), ("JP", 2), ("MN", 3)];

fn genesis() -> Charter {
    let mut charter = Charter::new(NETWORK);
    for (c, seed) in MEMBERS {
        charter.upsert_member(CharterMember {
            code: code(c),
            name: format!("Customs {c}"),
            public_key: key(seed).author_key(),
            peer_id: String::new(),
            addresses: vec![],
        });
    }
    charter
}

fn at(minute: u32) -> Timestamp {
    format!("2026-12-03T10:{minute:02}:00Z").parse().unwrap()
}

fn admit_tj() -> Change {
    Change::Admit {
        code: code("TJ"),
        name: "Customs Service of Tajikistan".into(),
        public_key: key(9).author_key(),
        peer_id: TJ_PEER.into(),
        addresses: vec![],
        proof: None,
    }
}

fn replica() -> (tempfile::TempDir, Replica) {
    let dir = tempfile::tempdir().unwrap();
    let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
    (dir, replica)
}

fn kind(e: crate::NodeError) -> rix_api::ErrorKind {
    e.kind()
}

#[test]
fn a_proposal_applies_once_a_majority_approved_and_the_chain_reads_back_from_the_replica() {
    let (_dir, replica) = replica();
    let mut chain = CharterChain::load(&genesis(), &replica).unwrap();
    assert_eq!((chain.head().version, chain.genesis()), (1, genesis().genesis_hash()));
    let id = chain.propose(&replica, &code("KZ"), &key(1), vec![admit_tj()], at(0)).unwrap().0;
    let view = chain.proposal(&id).unwrap();
    assert_eq!((view.approvals.clone(), view.needed, view.applied), (vec![code("KZ")], 2, None));
    assert_eq!(chain.pending().proposals.len(), 1);
    // Approving twice changes nothing; JP's approval makes the majority.
    chain.approve(&replica, &code("KZ"), &key(1), &id.to_string()[..8], at(1)).unwrap();
    assert_eq!(chain.proposal(&id).unwrap().approvals, vec![code("KZ")]);
    chain.approve(&replica, &code("JP"), &key(2), &id.to_string(), at(2)).unwrap();
    assert_eq!(chain.head().version, 2);
    assert!(chain.charter().member(&code("TJ")).is_some());
    assert_eq!(chain.proposal(&id).unwrap().applied, Some(2));
    assert!(chain.pending().proposals.is_empty());

    // Another process reading the same replica sees the same chain.
    let reread = CharterChain::load(&genesis(), &replica).unwrap();
    assert_eq!(reread.view(None).unwrap(), chain.view(None).unwrap());
    let log = reread.log();
    assert_eq!(log.versions.len(), 2);
    assert_eq!(log.versions[1].approved_by, vec![code("JP"), code("KZ")]);
    assert_eq!(log.versions[1].effective_at, Some(at(2)));
    assert_eq!(log.versions[1].proposer, Some(code("KZ")));
    let v2 = reread.view(None).unwrap();
    assert_eq!((v2.version, v2.hash, v2.threshold, v2.members.len()), (2, id, 3, 4));
    assert_eq!(v2.members.iter().find(|m| m.code == code("TJ")).unwrap().joined, 2);
    assert_eq!(reread.view(Some(1)).unwrap().members.len(), 3);
    assert!(matches!(reread.view(Some(3)), Err(CharterChainError::NoSuchVersion { asked: 3, current: 2 })));
}

#[test]
fn bad_proposals_and_approvals_are_refused_before_anything_is_signed() {
    let (_dir, replica) = replica();
    let mut chain = CharterChain::load(&genesis(), &replica).unwrap();
    let propose = |chain: &mut CharterChain, who: &str, seed: u8, change: Change| {
        chain.propose(&replica, &code(who), &key(seed), vec![change], at(0)).map(|_| ()).unwrap_err()
    };
    let remove = |c: &str| Change::Remove { code: code(c), after_seq: 0, last_id: None };
    let fixed = |count| Change::SetThreshold { threshold: ThresholdRule::Fixed { count } };
    let e = propose(&mut chain, "KZ", 1, remove("TJ"));
    assert_eq!((kind(e), replica.amendments().unwrap().len()), (rix_api::ErrorKind::Invalid, 0));
    assert!(propose(&mut chain, "KZ", 1, fixed(4)).to_string().contains("threshold 4 is outside 1..=3"));
    let mut duplicate = admit_tj();
    if let Change::Admit { code: c, .. } = &mut duplicate {
        *c = code("JP");
    }
    assert!(propose(&mut chain, "KZ", 1, duplicate).to_string().contains("JP is already a member"));
    // A key that is not the member's, and a node whose member is not in the charter.
    assert_eq!(kind(propose(&mut chain, "KZ", 2, fixed(2))), rix_api::ErrorKind::Forbidden);
    assert_eq!(kind(propose(&mut chain, "TJ", 9, fixed(2))), rix_api::ErrorKind::Forbidden);
    assert!(replica.amendments().unwrap().is_empty() && replica.approvals().unwrap().is_empty());

    // Two competing proposals of version 1: once one applies, the other cannot be approved.
    let first = chain.propose(&replica, &code("KZ"), &key(1), vec![fixed(3)], at(1)).unwrap().0;
    let second = chain.propose(&replica, &code("JP"), &key(2), vec![fixed(1)], at(1)).unwrap().0;
    chain.approve(&replica, &code("MN"), &key(3), &second.to_string(), at(2)).unwrap();
    assert_eq!(chain.head().charter.needed(), 1);
    let e = chain.approve(&replica, &code("MN"), &key(3), &first.to_string(), at(3)).unwrap_err();
    assert_eq!(kind(e), rix_api::ErrorKind::Conflict);
    assert!(chain.proposal(&first).unwrap().stale.unwrap().contains("version 2 was made by another amendment"));
    assert_eq!(
        kind(chain.approve(&replica, &code("MN"), &key(3), "ffff", at(3)).unwrap_err()),
        rix_api::ErrorKind::NotFound
    );
}

#[test]
fn a_removed_members_history_stays_valid_and_its_later_records_are_refused() {
    let (_dir, replica) = replica();
    let kz = Author::new(NETWORK, code("KZ"), key(1));
    let mut head = None;
    let mut records = vec![];
    for i in 0..4 {
        let p =
            Publication::new(Kind::BestPractice, format!("KZ {i}"), "en".parse().unwrap(), vec![KeyFactor::Leadership]);
        let r = kz.sign_next(head, Content::Publication(Box::new(p)), at(i)).unwrap();
        head = Some(r.as_head());
        records.push(r);
    }
    replica.insert_batch(&records[..3]).unwrap();
    let mut chain = CharterChain::load(&genesis(), &replica).unwrap();
    let remove = Change::Remove { code: code("KZ"), after_seq: 0, last_id: None };
    let id = chain.propose(&replica, &code("JP"), &key(2), vec![remove], at(5)).unwrap().0;
    // The cut-off is the newest record of KZ this node holds.
    let Change::Remove { after_seq, last_id, .. } = &chain.proposal(&id).unwrap().changes[0] else { panic!() };
    assert_eq!((*after_seq, *last_id), (3, Some(records[2].id())));
    chain.approve(&replica, &code("MN"), &key(3), &id.to_string(), at(6)).unwrap();
    let charter = chain.charter();
    let verdicts: Vec<_> =
        records.iter().map(|r| r.signed().verify(&charter).map_or_else(|e| e.reason(), |_| "ok")).collect();
    assert_eq!(verdicts, ["ok", "ok", "ok", "key_retired"]);
}

#[test]
fn items_from_peers_are_checked_before_they_are_stored() {
    let (_dir, proposer) = replica();
    let mut theirs = CharterChain::load(&genesis(), &proposer).unwrap();
    let (_, items) = theirs.propose(&proposer, &code("KZ"), &key(1), vec![admit_tj()], at(0)).unwrap();
    let (_dir2, replica) = replica();
    let mut ours = CharterChain::load(&genesis(), &replica).unwrap();
    let body = |changes: Vec<Change>, version: u64| {
        Amendment::new(AmendmentBody {
            format: 1,
            network: NETWORK.into(),
            genesis: genesis().genesis_hash(),
            amends: genesis().genesis_hash(),
            version,
            proposer: code("JP"),
            created_at: at(1),
            changes,
        })
    };
    let remove_nobody = body(vec![Change::Remove { code: code("UZ"), after_seq: 0, last_id: None }], 2);
    let misnumbered = body(vec![Change::SetThreshold { threshold: ThresholdRule::Majority }], 7);
    let stranger = Approval::sign(&key(42), NETWORK, code("KZ"), RecordId::of_envelope(b"x"), at(2));
    let forged = vec![
        remove_nobody.bytes.clone(),
        misnumbered.bytes.clone(),
        Amendment::new(AmendmentBody { network: "another-net".into(), ..misnumbered.body.clone() }).bytes,
        b"RIXM\x01{}".to_vec(),
    ];
    let got = ours.accept(&replica, forged, true).unwrap();
    assert_eq!((got.invalid.len(), got.new.len()), (4, 0), "{:?}", got.invalid);
    assert!(got.invalid[0].contains("does not apply to version 1: change 0: UZ is not a member"), "{:?}", got.invalid);
    assert!(got.invalid[1].contains("says it makes version 7"));
    // An approval by a key no amendment installs: refused by sync, only ignored by gossip.
    assert_eq!(ours.accept(&replica, vec![stranger.bytes.clone()], true).unwrap().invalid.len(), 1);
    assert_eq!(ours.accept(&replica, vec![stranger.bytes.clone()], false).unwrap().ignored, 1);
    assert!(replica.amendments().unwrap().is_empty() && replica.approvals().unwrap().is_empty());
    // The real items, approvals first: amendments are still taken first.
    let got = ours.accept(&replica, items.into_iter().rev().collect(), true).unwrap();
    assert_eq!((got.new.len(), got.invalid.len()), (2, 0));
    let again = ours.accept(&replica, replica.amendments().unwrap().into_iter().map(|a| a.bytes).collect(), true);
    assert_eq!(again.unwrap().duplicate, 1);
}

/// The chain vector of record-format.md §10.7: four versions out of five amendments, with a
/// competing amendment short of its threshold, duplicate approvals, an outsider's, a
/// rotated-out key's, and an amendment that does not apply.
fn chain_vector() -> Vec<(String, String)> {
    use rix_record::amendment::key_proof;
    let genesis = genesis();
    let g = genesis.genesis_hash();
    let amend = |amends: RecordId, version: u64, proposer: &str, changes: Vec<Change>| {
        Amendment::new(AmendmentBody {
            format: 1,
            network: NETWORK.into(),
            genesis: g,
            amends,
            version,
            proposer: code(proposer),
            created_at: at(version as u32),
            changes,
        })
    };
    let approve = |seed: u8, who: &str, a: &Amendment, minute: u32| {
        Approval::sign(&key(seed), NETWORK, code(who), a.id, at(minute))
    };
    let admit_tj = Change::Admit {
        code: code("TJ"),
        name: "Customs TJ".into(),
        public_key: key(9).author_key(),
        peer_id: String::new(),
        addresses: vec![],
        proof: Some(key_proof(&key(9), &g, &code("TJ"))),
    };
    let a1 = amend(g, 2, "KZ", vec![admit_tj]);
    let b1 = amend(g, 2, "MN", vec![Change::SetThreshold { threshold: ThresholdRule::Fixed { count: 1 } }]);
    let rotate = Change::RotateKey {
        code: code("JP"),
        public_key: key(12).author_key(),
        proof: key_proof(&key(12), &a1.id, &code("JP")),
    };
    let a2 = amend(a1.id, 3, "JP", vec![rotate]);
    let a3 = amend(a2.id, 4, "KZ", vec![Change::Remove { code: code("MN"), after_seq: 0, last_id: None }]);
    let dup = Change::Admit {
        code: code("KZ"),
        name: "again".into(),
        public_key: key(20).author_key(),
        peer_id: String::new(),
        addresses: vec![],
        proof: None,
    };
    let a4 = amend(a3.id, 5, "TJ", vec![dup]);
    let mut items: Vec<Vec<u8>> = vec![
        a1.bytes.clone(),
        b1.bytes.clone(),
        a2.bytes.clone(),
        a3.bytes.clone(),
        a4.bytes.clone(),
        approve(1, "KZ", &a1, 10).bytes,
        approve(2, "JP", &a1, 11).bytes,
        approve(3, "MN", &b1, 12).bytes,
        approve(1, "KZ", &a2, 13).bytes,
        approve(1, "KZ", &a2, 14).bytes,
        approve(9, "TJ", &a2, 15).bytes,
        approve(42, "MN", &a2, 16).bytes,
        approve(3, "MN", &a2, 17).bytes,
        approve(2, "JP", &a3, 18).bytes,
        approve(12, "JP", &a3, 19).bytes,
        approve(1, "KZ", &a3, 20).bytes,
        approve(9, "TJ", &a3, 21).bytes,
        approve(1, "KZ", &a4, 22).bytes,
        approve(12, "JP", &a4, 23).bytes,
        approve(9, "TJ", &a4, 24).bytes,
    ];
    // Any order gives the same chain; the vector lists them by bytes.
    items.sort();
    let (_dir, replica) = replica();
    for item in &items {
        match Amendment::from_bytes(item) {
            Ok(a) => assert!(replica.put_amendment(&a).unwrap()),
            Err(_) => assert!(replica.put_approval(&Approval::from_bytes(item).unwrap()).unwrap()),
        }
    }
    let chain = CharterChain::load(&genesis, &replica).unwrap();
    let versions: Vec<serde_json::Value> = chain
        .log()
        .versions
        .iter()
        .map(|v| {
            let view = chain.view(Some(v.version)).unwrap();
            let members: serde_json::Map<String, serde_json::Value> =
                view.members.iter().map(|m| (m.code.to_string(), m.public_key.clone().into())).collect();
            serde_json::json!({"version": v.version, "hash": v.hash, "members": members, "threshold": view.threshold})
        })
        .collect();
    let charter_json = serde_json::to_string(&serde_json::json!({
        "network": NETWORK,
        "members": genesis.members.iter().map(|m| serde_json::json!({"code": m.code, "name": m.name, "public_key": m.public_key.to_string()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    vec![
        ("name".into(), "four-versions-from-five-amendments".into()),
        ("genesis_charter".into(), charter_json),
        ("genesis_hash".into(), g.to_string()),
        ("items".into(), items.iter().map(hex::encode).collect::<Vec<_>>().join(",")),
        ("versions".into(), serde_json::to_string(&versions).unwrap()),
    ]
}

#[test]
fn the_chain_vector_in_record_format_is_what_the_chain_gives() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/record-format.md")).unwrap();
    let expected: Vec<String> = chain_vector().into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let start = doc.lines().position(|l| l == "```rix-chain-vector");
    let block: Vec<&str> =
        start.map(|s| doc.lines().skip(s + 1).take_while(|l| *l != "```").collect()).unwrap_or_default();
    assert!(
        block == expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "record-format.md §10.7 should hold this block:\n```rix-chain-vector\n{}\n```",
        expected.join("\n")
    );
    let versions: serde_json::Value = serde_json::from_str(expected[4].trim_start_matches("versions: ")).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 4, "versions 1-4; the fifth amendment does not apply");
}

#[test]
fn an_old_key_record_held_before_the_new_keys_first_record_leaves_and_replicas_agree_in_any_order() {
    use rix_record::SignedRecord;
    let rotate = Change::RotateKey { code: code("KZ"), public_key: key(11).author_key(), proof: String::new() };
    let charter = CharterState::genesis(genesis()).apply(&[rotate]).unwrap().charter;
    let sign = |seed: u8, head: Option<rix_record::ChainHead>, title: &str| {
        let p = Publication::new(Kind::BestPractice, title, "en".parse().unwrap(), vec![KeyFactor::Leadership]);
        Author::new(NETWORK, code("KZ"), key(seed)).sign_next(head, Content::Publication(Box::new(p)), at(0)).unwrap()
    };
    let first = sign(1, None, "one");
    let second = sign(1, Some(first.as_head()), "two");
    // At seq 3 the member signs with its new key; a copy of the old key signs seq 3 and 4.
    let new_key = sign(11, Some(second.as_head()), "three, new key");
    let old_3 = sign(1, Some(second.as_head()), "three, old key");
    let old_4 = sign(1, Some(old_3.as_head()), "four, old key");
    let store = |replica: &Replica, records: &[&rix_record::VerifiedRecord]| {
        let signed: Vec<SignedRecord> = records.iter().map(|r| r.signed()).collect();
        crate::ops::verify_and_store(replica, &charter, &signed, rix_store::Durability::Flushed).unwrap()
    };
    let state = |replica: &Replica| {
        let mut held: Vec<String> = replica.iter().map(|r| r.unwrap().record().seq.to_string()).collect();
        held.sort();
        let chain3 = replica.id_at(&code("KZ"), 3).unwrap();
        (held, chain3)
    };
    // A: the old key's records first, then the new key's (an equivocation at seq 3), then the
    // new key's record again by sync once the slot is free.
    let (_a, a) = replica();
    store(&a, &[&first, &second, &old_3, &old_4]);
    assert_eq!(state(&a).0, ["1", "2", "3", "4"]);
    store(&a, &[&new_key]);
    let retired: Vec<u64> = a.retired_records().unwrap().iter().map(|r| r.record.record().seq).collect();
    assert_eq!(retired, [3, 4], "the old key's records from seq 3 on leave");
    store(&a, &[&new_key]);
    // B: the new key's record first; the old key's are refused on arrival.
    let (_b, b) = replica();
    store(&b, &[&first, &second, &new_key]);
    let stored = store(&b, &[&old_3, &old_4]);
    assert!(stored.slots.iter().all(|s| matches!(s, Err(rix_record::VerifyError::KeyRetired { after_seq: 2, .. }))));
    assert_eq!(state(&a), state(&b));
    assert_eq!(state(&a), (vec!["1".into(), "2".into(), "3".into()], Some(new_key.id())));
    let report = crate::ops::verify_replica(&a, &charter, |_| {}).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}
