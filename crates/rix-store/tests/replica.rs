//! The replica against real sled directories: insert outcomes, indexes, gaps, equivocation,
//! versions and withdrawals, and reopening.

use rix_record::content::{Content, Publication, Withdrawal};
use std::collections::BTreeMap;

use rix_record::{Author, ChainHead, KeyFactor, Kind, MemberCode, MemberKey, Timestamp, VerifiedRecord};
use rix_store::query::{MemberStats, NewestRecord, RecordFilter, StatsReport};
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
    assert_eq!(old.superseded_by, Some(v2.id()));
    assert_eq!(replica.current_version(&v1.id()).unwrap(), v2.id());
    let seminar = replica.show(&other.id().to_hex()).unwrap();
    assert!(seminar.withdrawn);
    assert_eq!(seminar.withdrawal.unwrap().reason, "cancelled");

    let stats = replica.stats(&["KZ".parse().unwrap(), "JP".parse().unwrap(), "RU".parse().unwrap()]).unwrap();
    assert_eq!(
        (stats.records_stored, stats.publications, stats.superseded, stats.withdrawn, stats.withdrawals),
        (5, 2, 1, 1, 1)
    );
    let ru = stats.members.iter().find(|m| m.member.as_str() == "RU").unwrap();
    assert_eq!((ru.publications, ru.missing_factors.len()), (0, 10));
    let kz_row = stats.members.iter().find(|m| m.member.as_str() == "KZ").unwrap();
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

/// What `Replica::stats` computes from index entries, computed the obvious way: every record
/// read and decoded, with its supersession and withdrawal state from `Replica::stored`.
fn stats_by_reading_every_record(replica: &Replica, members: &[MemberCode]) -> StatsReport {
    let mut report = StatsReport {
        records_stored: replica.len().unwrap(),
        factors: KeyFactor::ALL.to_vec(),
        ..StatsReport::default()
    };
    let mut rows: BTreeMap<String, MemberStats> =
        members.iter().map(|m| (m.to_string(), MemberStats::new(m.clone()))).collect();
    for record in replica.iter() {
        let record = record.unwrap();
        let r = record.record();
        let Some(p) = r.publication() else {
            report.withdrawals += 1;
            continue;
        };
        let stored = replica.stored(record.clone()).unwrap();
        if stored.withdrawn_by.is_some() {
            report.withdrawn += 1;
            continue;
        }
        if stored.superseded_by.is_some() {
            report.superseded += 1;
            continue;
        }
        report.publications += 1;
        *report.by_kind.entry(p.kind.slug().to_owned()).or_default() += 1;
        *report.by_year.entry(r.created_at.year().to_string()).or_default() += 1;
        let row = rows.entry(r.author.to_string()).or_insert_with(|| MemberStats::new(r.author.clone()));
        row.publications += 1;
        *row.by_year.entry(r.created_at.year().to_string()).or_default() += 1;
        for f in &p.factors {
            *row.by_factor.entry(f.slug().to_owned()).or_default() += 1;
            *report.factor_totals.entry(f.slug().to_owned()).or_default() += 1;
        }
        if row.newest.as_ref().is_none_or(|n| n.created_at < r.created_at) {
            row.newest = Some(NewestRecord { id: record.id(), title: p.title.clone(), created_at: r.created_at });
        }
    }
    for row in rows.values_mut() {
        row.missing_factors =
            report.factors.iter().filter(|f| !row.by_factor.contains_key(f.slug())).copied().collect();
    }
    report.members = rows.into_values().collect();
    report
}

#[test]
fn stats_from_the_indexes_equal_stats_from_reading_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let authors = [author("KZ", 1), author("JP", 2), author("MN", 3), author("XX", 4)];
    let mut heads: Vec<Option<ChainHead>> = vec![None; authors.len()];
    let mut published: Vec<(usize, rix_record::RecordId)> = Vec::new();
    let next = |a: usize, content: Content, at: &str, heads: &mut Vec<Option<ChainHead>>| {
        let record = authors[a].sign_next(heads[a].take(), content, at.parse().unwrap()).unwrap();
        heads[a] = Some(record.as_head());
        replica.insert(&record).unwrap();
        record.id()
    };
    // A deterministic mix: several years, equal creation times, every kind and factor, own and
    // foreign supersessions and withdrawals, and an equivocation.
    let mut state = 7u64;
    let mut roll = |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    for i in 0..240 {
        let a = roll(authors.len() as u64) as usize;
        let at = format!("{}-0{}-1{}T0{}:00:00Z", 2024 + roll(3), 1 + roll(9), roll(10), roll(3));
        let kind = Kind::ALL[roll(Kind::ALL.len() as u64) as usize];
        let mut factors: Vec<KeyFactor> = KeyFactor::ALL.iter().copied().filter(|_| roll(4) == 0).collect();
        if factors.is_empty() {
            factors.push(KeyFactor::ALL[roll(KeyFactor::ALL.len() as u64) as usize]);
        }
        let mut p = publication(kind, &format!("record {i}"), &factors);
        let choice = roll(10);
        if choice < 3 && !published.is_empty() {
            // Supersede an earlier record, often someone else's (an ignored claim).
            p.supersedes = Some(published[roll(published.len() as u64) as usize].1);
        }
        if choice == 9 && !published.is_empty() {
            let target = published[roll(published.len() as u64) as usize].1;
            next(a, Content::Withdrawal(Withdrawal { withdraws: target, reason: "outdated".into() }), &at, &mut heads);
            continue;
        }
        let id = next(a, Content::Publication(Box::new(p)), &at, &mut heads);
        published.push((a, id));
    }
    // Two newest records at the same second: the report names the one with the lower id.
    for title in ["tie one", "tie two"] {
        let p = publication(Kind::Event, title, &[KeyFactor::Transparency]);
        next(2, Content::Publication(Box::new(p)), "2027-01-01T00:00:00Z", &mut heads);
    }
    let twin = sign(&authors[0], None, publication(Kind::Event, "twin of KZ's first", &[KeyFactor::Hrm]), 9);
    assert!(matches!(replica.insert(&twin).unwrap(), Inserted::Equivocation { .. }));

    let members: Vec<MemberCode> = ["KZ", "JP", "MN", "RU"].iter().map(|m| m.parse().unwrap()).collect();
    let from_indexes = replica.stats(&members).unwrap();
    assert_eq!(from_indexes, stats_by_reading_every_record(&replica, &members));
    // The mix exercised what it was meant to.
    assert!(from_indexes.superseded > 0 && from_indexes.withdrawn > 0 && from_indexes.withdrawals > 0);
    assert!(from_indexes.by_year.len() == 4 && from_indexes.members.len() == 5, "{from_indexes:?}");
    let mn = from_indexes.members.iter().find(|m| m.member.as_str() == "MN").unwrap();
    assert!(mn.newest.as_ref().unwrap().title.starts_with("tie "));
}

/// `chain_heads` resumes each author's scan after the gap-free prefix it saw last time; the
/// result must stay what a full scan gives, whatever order records arrive in, including
/// after a reopen (cold) and while gaps open and close between calls.
#[test]
fn chain_heads_resumed_from_the_known_prefix_equal_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(&dir);
    let authors = [author("KZ", 1), author("JP", 2), author("KG", 3)];
    let mut records = Vec::new();
    for a in &authors {
        let mut head = None;
        for seq in 1..=40u32 {
            let r = sign(a, head, publication(Kind::Event, &format!("{seq}"), &[KeyFactor::Leadership]), seq % 28 + 1);
            head = Some(r.as_head());
            records.push(r);
        }
    }
    // A fixed shuffle (LCG), so gaps appear in every author's chain and close later.
    let mut state = 7u64;
    for i in (1..records.len()).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        records.swap(i, (state >> 33) as usize % (i + 1));
    }
    let without_issues = |mut c: rix_store::AuthorChain| {
        c.issues.clear();
        c
    };
    let full = |r: &Replica| -> Vec<_> { r.chains().unwrap().into_iter().map(without_issues).collect() };
    for (i, chunk) in records.chunks(7).enumerate() {
        replica.insert_batch(chunk).unwrap();
        if i % 2 == 0 {
            assert_eq!(replica.chain_heads().unwrap(), full(&replica), "after {} records", (i + 1) * 7);
        }
    }
    assert_eq!(replica.chain_heads().unwrap(), full(&replica));
    assert!(replica.chain_heads().unwrap().iter().all(|c| c.contiguous == 40 && c.missing.is_empty()));
    drop(replica);
    let reopened = open(&dir);
    assert_eq!(reopened.chain_heads().unwrap(), full(&reopened), "cold, after a reopen");
}
