//! A deterministic synthetic corpus for search tests and benchmarks: publications in English,
//! Russian, Chinese and Japanese built from small vocabularies of customs terms, signed in
//! sequence by one author. The vocabularies deliberately omit the words the search tests look
//! for in the sample records, so generated records add noise without outranking them.

use rix_record::content::{Content, Publication};
use rix_record::{Author, KeyFactor, Kind, Timestamp, VerifiedRecord};

/// Deterministic pseudo-random numbers (a 64-bit LCG): the same corpus on every run.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..n`.
    pub fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }

    /// `n` words from `vocabulary`, joined with `sep`.
    pub fn words(&mut self, vocabulary: &[&str], n: usize, sep: &str) -> String {
        (0..n).map(|_| vocabulary[self.next(vocabulary.len())]).collect::<Vec<_>>().join(sep)
    }
}

/// English vocabulary.
pub const EN: &[&str] = &[
    "customs",
    "integrity",
    "officers",
    "training",
    "declaration",
    "risk",
    "audit",
    "staff",
    "measures",
    "programme",
    "review",
    "management",
    "clearance",
    "procedures",
    "ethics",
    "survey",
    "reform",
    "partnership",
    "traders",
    "guidance",
];
/// Russian vocabulary.
pub const RU: &[&str] = &[
    "таможня",
    "добропорядочность",
    "сотрудники",
    "обучение",
    "декларация",
    "риск",
    "аудит",
    "персонал",
    "меры",
    "программа",
    "проверка",
    "управление",
    "процедуры",
    "этика",
    "реформа",
];
/// Chinese vocabulary.
pub const ZH: &[&str] =
    &["海关", "监管", "培训", "申报", "风险", "审计", "人员", "措施", "程序", "改革", "企业", "管理"];
/// Japanese vocabulary.
pub const JA: &[&str] =
    &["税関", "職員", "研修", "申告", "リスク", "監査", "手続", "改革", "事業者", "管理", "倫理", "調査"];

/// The language, vocabulary and word separator of record `i` (rotating through the four).
pub fn language_of(i: usize) -> (&'static str, &'static [&'static str], &'static str) {
    [("en", EN, " "), ("ru", RU, " "), ("zh-Hans", ZH, ""), ("ja", JA, "")][i % 4]
}

/// `count` publications signed by `author` as records 1..=count, with bodies of `body_words`.
pub fn generate(author: &Author, count: usize, body_words: usize, seed: u64) -> Vec<VerifiedRecord> {
    generate_iter(author, count, body_words, seed).collect()
}

/// Like [`generate`], one record at a time, for corpora too large to hold in memory.
pub fn generate_iter(
    author: &Author,
    count: usize,
    body_words: usize,
    seed: u64,
) -> impl Iterator<Item = VerifiedRecord> + '_ {
    let mut rng = Lcg(seed);
    let mut head = None;
    let now = Timestamp::now();
    (0..count).map(move |i| {
        let (lang, vocab, sep) = language_of(i);
        let factor = KeyFactor::ALL[rng.next(KeyFactor::ALL.len())];
        let kind = Kind::ALL[rng.next(Kind::ALL.len())];
        let mut p = Publication::new(kind, rng.words(vocab, 5, sep), lang.parse().expect("tag"), vec![factor]);
        p.summary = rng.words(vocab, 12, sep);
        p.body = rng.words(vocab, body_words, sep);
        let r = author.sign_next(head, Content::Publication(Box::new(p)), now).expect("sign");
        head = Some(r.as_head());
        r
    })
}

/// Signs `count` generated records by `author` (30-word bodies, seed 1) straight into the replica at
/// `replica_dir`, in batches of 4,096 as sync writes them, with `progress(done)` after each;
/// returns the last. No daemon may hold the replica.
pub fn fill_replica(
    replica_dir: &std::path::Path,
    author: &Author,
    count: usize,
    mut progress: impl FnMut(usize),
) -> Option<rix_record::VerifiedRecord> {
    let replica = rix_store::Replica::open(replica_dir, &rix_store::ReplicaOptions::default()).unwrap();
    let mut records = generate_iter(author, count, 30, 1).peekable();
    let (mut done, mut last) = (0, None);
    while records.peek().is_some() {
        let batch: Vec<_> = records.by_ref().take(4096).collect();
        replica.insert_batch(&batch).unwrap();
        done += batch.len();
        last = batch.last().cloned();
        progress(done);
    }
    replica.flush().unwrap();
    last
}
