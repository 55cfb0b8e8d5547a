//! The replica against real sled directories: insert outcomes, indexes, gaps, equivocation,
//! versions and withdrawals, and reopening.

use rix_record::content::{Content, Publication, Withdrawal};
use rix_record::{Author, ChainHead, KeyFactor, Kind, MemberKey, Timestamp, VerifiedRecord};
use rix_store::query::RecordFilter;
use rix_store::{Inserted, Replica, ReplicaOptions};

fn author(code: &str, seed: u8) -> Author {
    Author::new("almaty-test", code.parse().unwrap(), MemberKey::from_seed(&[seed; 32]))
}

fn publication(kind: Kind, title: &str, factors: &[KeyFactor]) -> Publication {
    Publication::new(kind, title, "en".parse().unwrap(), factors.to_vec())
}

fn sign(a: &Author, head: Option<ChainHead>, p: Publication, day: u32) -> VerifiedRecord {
    let at: Timestamp = format!("2026-01-{day:02}T00:00:00Z").parse().unwrap();
    a.sign_next(head, Content::Publication(Box::new(p)), at).unwrap()
}

fn open(dir: &tempfile::TempDir) -> Replica {
    Replica::open(&dir.path().join("replica"), &ReplicaOptions::default()).unwrap()
}

#[test]
fn insert_is_idempotent_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let kz = author("KZ", 1);
    let r1 = sign(&kz, None, publication(Kind::BestPractice, "Hotline", &[KeyFactor::Transparency]), 1);
    {
        let replica = open(&dir);
        assert_eq!(replica.insert(&r1).unwrap(), Inserted::New);
        assert_eq!(replica.insert(&r1).unwrap(), Inserted::Duplicate);
        assert_eq!(replica.len().unwrap(), 1);
    }
    let replica = open(&dir);
    assert_eq!(replica.len().unwrap(), 1);
    assert_eq!(replica.get(&r1.id()).unwrap().unwrap().bytes(), r1.bytes());
    assert_eq!(replica.resolve(&r1.id().to_hex()[..6]).unwrap(), r1.id());
}

#[test]
fn filters_use_kind_factor_member_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let (kz, jp) = (author("KZ", 1), author("JP", 2));
    let a = sign(&kz, None, publication(Kind::BestPractice, "A", &[KeyFactor::Hrm]), 1);
    let b =
        sign(&kz, Some(a.as_head()), publication(Kind::CaseStudy, "B", &[KeyFactor::Hrm, KeyFactor::Automation]), 3);
    let c = sign(&jp, None, publication(Kind::BestPractice, "C", &[KeyFactor::Automation]), 2);
    for r in [&a, &b, &c] {
        replica.insert(r).unwrap();
    }
    let titles =
        |f: RecordFilter| -> Vec<String> { replica.list(&f).unwrap().records.into_iter().map(|r| r.title).collect() };
    assert_eq!(titles(RecordFilter::default()), ["B", "C", "A"]);
    assert_eq!(titles(RecordFilter { kind: Some(Kind::BestPractice), ..Default::default() }), ["C", "A"]);
    assert_eq!(titles(RecordFilter { factor: Some(KeyFactor::Automation), ..Default::default() }), ["B", "C"]);
    assert_eq!(titles(RecordFilter { member: Some("KZ".parse().unwrap()), ..Default::default() }), ["B", "A"]);
    assert_eq!(
        titles(RecordFilter {
            member: Some("KZ".parse().unwrap()),
            factor: Some(KeyFactor::Hrm),
            since: Some("2026-01-02T00:00:00Z".parse().unwrap()),
            ..Default::default()
        }),
        ["B"]
    );
    assert_eq!(titles(RecordFilter { limit: Some(1), ..Default::default() }), ["B"]);
}

#[test]
fn gaps_are_kept_and_reported_then_closed() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let kz = author("KZ", 1);
    let r1 = sign(&kz, None, publication(Kind::Event, "1", &[KeyFactor::Leadership]), 1);
    let r2 = sign(&kz, Some(r1.as_head()), publication(Kind::Event, "2", &[KeyFactor::Leadership]), 2);
    let r3 = sign(&kz, Some(r2.as_head()), publication(Kind::Event, "3", &[KeyFactor::Leadership]), 3);
    replica.insert(&r1).unwrap();
    assert_eq!(replica.insert(&r3).unwrap(), Inserted::New, "out-of-order records are kept");
    let chain = replica.chain(&"KZ".parse().unwrap()).unwrap();
    assert_eq!((chain.contiguous, chain.max_seq, chain.missing.clone()), (1, 3, vec![(2, 2)]));
    replica.insert(&r2).unwrap();
    let chain = replica.chain(&"KZ".parse().unwrap()).unwrap();
    assert_eq!((chain.contiguous, chain.missing.len(), chain.issues.len()), (3, 0, 0));
    assert_eq!(chain.head, Some(r3.as_head()));
}

#[test]
fn equivocation_is_detected_kept_as_evidence_and_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let kz = author("KZ", 1);
    let r1 = sign(&kz, None, publication(Kind::Event, "1", &[KeyFactor::Leadership]), 1);
    let twin = sign(&kz, None, publication(Kind::Event, "1 (other)", &[KeyFactor::Leadership]), 1);
    let r2_on_twin = sign(&kz, Some(twin.as_head()), publication(Kind::Event, "2", &[KeyFactor::Leadership]), 2);
    replica.insert(&r1).unwrap();
    assert_eq!(replica.insert(&twin).unwrap(), Inserted::Equivocation { existing: r1.id() });
    assert_eq!(replica.len().unwrap(), 1);
    let evidence = replica.equivocations().unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].records.iter().map(|r| r.id()).collect::<Vec<_>>(), [r1.id(), twin.id()]);
    // A later record that links to the twin shows up as a broken link in the chain.
    replica.insert(&r2_on_twin).unwrap();
    let chain = replica.chain(&"KZ".parse().unwrap()).unwrap();
    assert_eq!(chain.issues.len(), 1);
    assert_eq!((chain.issues[0].seq, chain.issues[0].links_to, chain.issues[0].held), (2, twin.id(), r1.id()));
    // The cheap variant for sync sees the same sequence, without reading records for links.
    let heads = replica.chain_heads().unwrap();
    assert_eq!((heads[0].held, heads[0].contiguous, heads[0].max_seq), (chain.held, chain.contiguous, chain.max_seq));
    assert!(heads[0].issues.is_empty());
    // And the one-lookup head agrees with the full scan.
    assert_eq!(replica.head(&"KZ".parse().unwrap()).unwrap(), chain.max_head);
    assert_eq!(replica.head(&"JP".parse().unwrap()).unwrap(), None);
}

#[test]
fn equivocation_within_one_batch_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let kz = author("KZ", 1);
    let a = sign(&kz, None, publication(Kind::Event, "a", &[KeyFactor::Leadership]), 1);
    let b = sign(&kz, None, publication(Kind::Event, "b", &[KeyFactor::Leadership]), 1);
    let out = replica.insert_batch(&[a.clone(), b, a.clone()]).unwrap();
    assert_eq!(out, [Inserted::New, Inserted::Equivocation { existing: a.id() }, Inserted::Duplicate]);
}

#[test]
fn versions_and_withdrawals_shape_the_default_listing() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let (kz, jp) = (author("KZ", 1), author("JP", 2));
    let v1 = sign(&kz, None, publication(Kind::ActionPlan, "Plan v1", &[KeyFactor::Leadership]), 1);
    let mut p2 = publication(Kind::ActionPlan, "Plan v2", &[KeyFactor::Leadership]);
    p2.supersedes = Some(v1.id());
    let v2 = sign(&kz, Some(v1.as_head()), p2, 2);
    // JP cannot supersede KZ's record.
    let mut hijack = publication(Kind::ActionPlan, "JP's take", &[KeyFactor::Leadership]);
    hijack.supersedes = Some(v2.id());
    let h = sign(&jp, None, hijack, 3);
    let other = sign(&kz, Some(v2.as_head()), publication(Kind::Event, "Seminar", &[KeyFactor::Hrm]), 4);
    let w = kz
        .sign_next(
            Some(other.as_head()),
            Content::Withdrawal(Withdrawal { withdraws: other.id(), reason: "cancelled".into() }),
            "2026-01-05T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
    for r in [&v1, &v2, &h, &other, &w] {
        replica.insert(r).unwrap();
    }
    let titles =
        |f: RecordFilter| -> Vec<String> { replica.list(&f).unwrap().records.into_iter().map(|r| r.title).collect() };
    assert_eq!(titles(RecordFilter::default()), ["JP's take", "Plan v2"]);
    assert_eq!(titles(RecordFilter { all_versions: true, ..Default::default() }), ["JP's take", "Plan v2", "Plan v1"]);
    assert_eq!(
        titles(RecordFilter { include_withdrawn: true, ..Default::default() }),
        ["Seminar", "JP's take", "Plan v2"]
    );
    let old = replica.show(&v1.id().to_hex()).unwrap();
    assert_eq!(old.superseded_by, Some(v2.id().to_hex()));
    assert_eq!(replica.current_version(&v1.id()).unwrap(), v2.id());
    let seminar = replica.show(&other.id().to_hex()).unwrap();
    assert!(seminar.withdrawn);
    assert_eq!(seminar.withdrawal.unwrap().reason, "cancelled");

    let stats = replica.stats(&["KZ".parse().unwrap(), "JP".parse().unwrap(), "RU".parse().unwrap()]).unwrap();
    assert_eq!(
        (stats.records_stored, stats.publications, stats.superseded, stats.withdrawn, stats.withdrawals),
        (5, 2, 1, 1, 1)
    );
    let ru = stats.members.iter().find(|m| m.member == "RU").unwrap();
    assert_eq!((ru.publications, ru.missing_factors.len()), (0, 10));
    let kz_row = stats.members.iter().find(|m| m.member == "KZ").unwrap();
    assert_eq!(kz_row.by_factor.get("leadership"), Some(&1));
    assert_eq!(kz_row.newest.as_ref().unwrap().title, "Plan v2");
}

#[test]
fn a_second_open_of_a_store_in_use_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(&dir);
    let err = Replica::open(&dir.path().join("replica"), &ReplicaOptions::default()).unwrap_err();
    assert!(err.to_string().contains("in use by another process"), "{err}");
}
