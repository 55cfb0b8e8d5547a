//! The shipped sample records cover what they promise: every kind, every key factor,
//! several members and languages, revisions and a withdrawal.

use std::collections::BTreeSet;

use rix_record::file::{DraftContent, read_record_file};
use rix_record::{KeyFactor, Kind};
use rix_tests::{SIGNATORIES, sample_files};

#[test]
fn samples_cover_every_kind_factor_and_the_working_languages() {
    let (mut kinds, mut factors, mut languages) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut total, mut revisions, mut withdrawals, mut members) = (0, 0, 0, 0);
    for member in SIGNATORIES {
        let files = sample_files(member);
        if !files.is_empty() {
            members += 1;
        }
        for file in files {
            total += 1;
            let draft = read_record_file(&file).unwrap_or_else(|e| panic!("{e}"));
            match draft.content {
                DraftContent::Publication { publication, supersedes } => {
                    kinds.insert(publication.kind);
                    factors.extend(publication.factors.iter().copied());
                    languages.insert(publication.language.primary());
                    revisions += usize::from(supersedes.is_some());
                }
                DraftContent::Withdrawal { .. } => withdrawals += 1,
            }
        }
    }
    assert!(total >= 30, "{total} sample records");
    assert_eq!(members, 9);
    assert_eq!(kinds.len(), Kind::ALL.len(), "{kinds:?}");
    assert_eq!(factors.len(), KeyFactor::ALL.len(), "{factors:?}");
    for lang in ["en", "ru", "zh", "ja"] {
        assert!(languages.contains(lang), "no sample in {lang}: {languages:?}");
    }
    assert!(revisions >= 2 && withdrawals >= 1, "{revisions} revisions, {withdrawals} withdrawals");
}
