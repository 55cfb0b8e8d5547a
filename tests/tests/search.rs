//! Full-text search over the sample records plus a generated corpus of 10,000 records, through
//! the same backend the CLI uses: each language finds its expected record first, filters
//! narrow, superseded and withdrawn records behave, and a rebuilt index answers the same.

use rix_api::Backend;
use rix_node::NodeConfig;
use rix_node::backend::LocalBackend;
use rix_node::drafts::DraftResolver;
use rix_record::file::read_record_file;
use rix_record::{Author, KeyFactor, Kind, MemberKey};
use rix_search::{SearchQuery, SearchResults};
use rix_store::query::RecordFilter;
use rix_tests::{SIGNATORIES, TestNet, corpus, sample_files};

const GENERATED: usize = 10_000;

/// A replica holding every sample record and the generated corpus, on GEN's node.
fn corpus() -> (TestNet, LocalBackend) {
    let mut members = SIGNATORIES.to_vec();
    members.push("GEN");
    let net = TestNet::create(&members);
    let mut envelopes = Vec::new();
    for member in SIGNATORIES {
        let node = net.node(member);
        let backend = LocalBackend::open(NodeConfig::load(&node.config).unwrap()).unwrap();
        let mut resolver = DraftResolver::new(&backend, Some(member.parse().unwrap()));
        for file in sample_files(member) {
            let draft = read_record_file(&file).unwrap();
            let view = backend.publish(resolver.content(&draft).unwrap()).unwrap();
            resolver.note_published(&file, view.id);
        }
        backend
            .export_signed(&mut |_kind, envelope, _| {
                envelopes.push(envelope.to_vec());
                Ok(())
            })
            .unwrap();
    }
    let gen_node = net.node("GEN");
    let key = MemberKey::load(&gen_node.dir.join("keys/signing.key")).unwrap();
    let author = Author::new("rix-test", "GEN".parse().unwrap(), key);
    envelopes.extend(corpus::generate(&author, GENERATED, 60, 42).iter().map(|r| r.bytes().to_vec()));
    let hub = LocalBackend::open(NodeConfig::load(&gen_node.config).unwrap()).unwrap();
    let mut writer = rix_record::pack::PackWriter::new(Vec::new()).unwrap();
    for e in &envelopes {
        writer.write(rix_record::pack::EntryKind::Record, e).unwrap();
    }
    let pack = writer.finish().unwrap();
    let report = hub.import(&mut &pack[..], envelopes.len() as u64, &mut |_, _| {}).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.stored, 34 + GENERATED);
    (net, hub)
}

fn search(backend: &LocalBackend, text: &str, filter: RecordFilter) -> SearchResults {
    backend.search(&SearchQuery { text: text.into(), filter }).unwrap()
}

fn titles(results: &SearchResults) -> Vec<&str> {
    results.records.iter().map(|h| h.record.title.as_str()).collect()
}

fn first_title(backend: &LocalBackend, text: &str) -> String {
    let results = search(backend, text, RecordFilter::default());
    results.records.first().map(|h| h.record.title.clone()).unwrap_or_else(|| panic!("no result for {text:?}"))
}

#[test]
fn searches_in_four_languages_filters_versions_and_reindex() {
    let (_net, hub) = corpus();

    // English, with stemming (the record says "prosecution" and "reports").
    assert_eq!(
        first_title(&hub, "rail crossing prosecutions"),
        "Solicitation at a rail border crossing detected through trader reports"
    );
    // An exact phrase, and a prefix.
    assert_eq!(
        first_title(&hub, "\"anonymous channel\""),
        "Solicitation at a rail border crossing detected through trader reports"
    );
    assert_eq!(first_title(&hub, "whistleblow*"), "State Customs Committee anti-corruption programme 2024-2026");
    // Russian, with stemming: the record says «Видеонаблюдение», the query is genitive.
    assert_eq!(first_title(&hub, "видеонаблюдения"), "Видеонаблюдение с хранением записей на пунктах пропуска");
    // Chinese and Japanese, no spaces.
    assert_eq!(first_title(&hub, "随机派单"), "通关作业无纸化与廉政风险防控");
    assert_eq!(first_title(&hub, "倫理規程"), "税関職員倫理規程の概要");
    // Azerbaijani in Latin script.
    assert_eq!(first_title(&hub, "hədiyyə"), "Gömrük orqanları əməkdaşlarının etik davranış kodeksi: əsas müddəalar");
    // Uzbek in Latin script, with its ‘ apostrophe.
    assert_eq!(first_title(&hub, "naqd to‘lovlar"), "Bojxona to‘lovlarini faqat elektron usulda qabul qilish");
    // Snippets highlight the match.
    let hit = &search(&hub, "随机派单", RecordFilter::default()).records[0];
    assert!(hit.highlights.iter().any(|&(a, b)| hit.snippet[a..b].contains('派')), "{hit:?}");

    // Filters narrow and combine with the query.
    let everywhere = search(&hub, "integrity", RecordFilter { limit: Some(500), ..Default::default() });
    let by_member = search(
        &hub,
        "integrity",
        RecordFilter { member: Some("KG".parse().unwrap()), limit: Some(500), ..Default::default() },
    );
    assert!(!by_member.records.is_empty() && by_member.records.len() < everywhere.records.len());
    assert!(by_member.records.iter().all(|h| h.record.author.as_str() == "KG"));
    let events = search(
        &hub,
        "integrity",
        RecordFilter { kind: Some(Kind::Event), factor: Some(KeyFactor::Hrm), limit: Some(500), ..Default::default() },
    );
    assert!(!events.records.is_empty());
    assert!(
        events
            .records
            .iter()
            .all(|h| h.record.kind.publication() == Some(Kind::Event) && h.record.factors.contains(&KeyFactor::Hrm))
    );
    let japanese =
        search(&hub, "税関", RecordFilter { language: Some("ja".into()), limit: Some(50), ..Default::default() });
    assert!(!japanese.records.is_empty() && japanese.records.iter().all(|h| h.record.language == "ja"));
    let future = search(
        &hub,
        "integrity",
        RecordFilter { since: Some("2999-01-01T00:00:00Z".parse().unwrap()), ..Default::default() },
    );
    assert!(future.records.is_empty());

    // Superseded versions are hidden unless asked for; withdrawn records likewise.
    let rotation = search(&hub, "人事異動", RecordFilter::default());
    assert_eq!(rotation.records.len(), 1);
    assert!(rotation.records[0].record.superseded_by.is_none());
    let all_versions = search(&hub, "人事異動", RecordFilter { all_versions: true, ..Default::default() });
    assert_eq!(all_versions.records.len(), 2);
    assert!(
        search(&hub, "родственника", RecordFilter::default()).records.is_empty(),
        "the withdrawn RU case is hidden"
    );
    let withdrawn = search(&hub, "родственника", RecordFilter { include_withdrawn: true, ..Default::default() });
    assert_eq!(titles(&withdrawn), ["Выявление конфликта интересов при проверке деклараций о доходах"]);
    assert!(withdrawn.records[0].record.withdrawn);

    // Nothing matches: an empty result, not an error.
    assert!(search(&hub, "zzzyxnotaword", RecordFilter::default()).records.is_empty());

    // A rebuilt index gives the same answers.
    let queries = ["rail crossing prosecutions", "видеонаблюдения", "随机派单", "倫理規程", "integrity", "税関 研修"];
    let before: Vec<Vec<rix_record::RecordId>> = queries
        .iter()
        .map(|q| search(&hub, q, RecordFilter::default()).records.into_iter().map(|h| h.record.id).collect())
        .collect();
    let report = hub.reindex(&mut |_, _| {}).unwrap();
    assert_eq!(report.indexed, 33 + GENERATED as u64, "every publication (not the withdrawal record) is indexed");
    let after: Vec<Vec<rix_record::RecordId>> = queries
        .iter()
        .map(|q| search(&hub, q, RecordFilter::default()).records.into_iter().map(|h| h.record.id).collect())
        .collect();
    assert_eq!(before, after);
}
