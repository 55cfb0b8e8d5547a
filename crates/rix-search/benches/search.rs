//! Search latency and index size over a large replica: RIX_BENCH_RECORDS generated records
//! (default 100,000) in English, Russian, Chinese and Japanese; 400 queries of several shapes.
//! Prints median and p99 latency per shape and the index size. Run with
//! `cargo bench -p rix-search --bench search`.

use std::time::{Duration, Instant};

use rix_record::content::{Content, Publication};
use rix_record::{Author, KeyFactor, Kind, MemberKey, Timestamp};
use rix_search::{SearchIndex, SearchQuery};
use rix_store::query::RecordFilter;
use rix_store::{Replica, ReplicaOptions};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
    fn words(&mut self, v: &[&str], n: usize, sep: &str) -> String {
        (0..n).map(|_| v[self.next(v.len())]).collect::<Vec<_>>().join(sep)
    }
}

const EN: &[&str] = &[
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
    "border",
    "hotline",
    "bribery",
    "rotation",
    "salary",
    "recruitment",
    "transparency",
    "automation",
    "complaints",
    "investigation",
];
const RU: &[&str] = &[
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
    "коррупция",
    "граница",
    "жалобы",
    "ротация",
    "зарплата",
];
const ZH: &[&str] = &[
    "海关", "监管", "培训", "申报", "风险", "审计", "人员", "措施", "程序", "改革", "企业", "管理", "廉政", "腐败",
    "口岸", "查验",
];
const JA: &[&str] = &[
    "税関",
    "職員",
    "研修",
    "申告",
    "リスク",
    "監査",
    "手続",
    "改革",
    "事業者",
    "管理",
    "倫理",
    "調査",
    "贈与",
    "異動",
];

/// Builds one query of a shape.
type MakeQuery = dyn Fn(&mut Lcg) -> SearchQuery;

fn main() {
    let n: usize = std::env::var("RIX_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let replica = Replica::open(&dir.path().join("replica"), &ReplicaOptions::default()).unwrap();
    let author = Author::new("bench", "KZ".parse().unwrap(), MemberKey::from_seed(&[3; 32]));
    let mut rng = Lcg(7);
    let now = Timestamp::now();
    let mut head = None;
    let mut batch = Vec::new();
    let t = Instant::now();
    for i in 0..n {
        let (lang, v, sep) = [("en", EN, " "), ("ru", RU, " "), ("zh-Hans", ZH, ""), ("ja", JA, "")][i % 4];
        let mut p = Publication::new(
            Kind::ALL[rng.next(7)],
            rng.words(v, 6, sep),
            lang.parse().unwrap(),
            vec![KeyFactor::ALL[rng.next(10)]],
        );
        p.summary = rng.words(v, 15, sep);
        p.body = rng.words(v, 120, sep);
        let r = author.sign_next(head, Content::Publication(Box::new(p)), now).unwrap();
        head = Some(r.as_head());
        batch.push(r);
        if batch.len() == 2048 {
            replica.insert_batch(&batch).unwrap();
            batch.clear();
        }
    }
    replica.insert_batch(&batch).unwrap();
    println!("generated and stored {n} records in {:.1}s", t.elapsed().as_secs_f64());

    let index = SearchIndex::open(&dir.path().join("search")).unwrap();
    let t = Instant::now();
    let indexed = index.rebuild(&replica, |_, _| {}).unwrap();
    println!(
        "indexed {indexed} records in {:.1}s ({:.0} records/s); index {:.1} MiB ({:.0} bytes/record); replica {:.1} MiB",
        t.elapsed().as_secs_f64(),
        indexed as f64 / t.elapsed().as_secs_f64(),
        index.size_on_disk() as f64 / 1_048_576.0,
        index.size_on_disk() as f64 / indexed as f64,
        replica.size_on_disk().unwrap() as f64 / 1_048_576.0
    );

    let shapes: [(&str, Box<MakeQuery>); 5] = [
        ("one English word", Box::new(|r: &mut Lcg| q(r.words(EN, 1, " "), RecordFilter::default()))),
        ("two Russian words", Box::new(|r: &mut Lcg| q(r.words(RU, 2, " "), RecordFilter::default()))),
        ("Chinese word", Box::new(|r: &mut Lcg| q(r.words(ZH, 1, ""), RecordFilter::default()))),
        ("Japanese phrase", Box::new(|r: &mut Lcg| q(format!("\"{}\"", r.words(JA, 2, "")), RecordFilter::default()))),
        (
            "word + member + factor filters",
            Box::new(|r: &mut Lcg| {
                q(
                    r.words(EN, 1, " "),
                    RecordFilter {
                        member: Some("KZ".parse().unwrap()),
                        factor: Some(KeyFactor::ALL[r.next(10)]),
                        ..Default::default()
                    },
                )
            }),
        ),
    ];
    println!("search latency, 20 results each, 80 queries per shape:");
    for (label, make) in &shapes {
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..80 {
            let query = make(&mut rng);
            let t = Instant::now();
            let results = index.search(&replica, &query).unwrap();
            times.push(t.elapsed());
            std::hint::black_box(results);
        }
        times.sort();
        println!(
            "  {label:<32} median {:>6.2} ms   p99 {:>6.2} ms",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[(times.len() * 99) / 100].as_secs_f64() * 1000.0
        );
    }
}

fn q(text: String, filter: RecordFilter) -> SearchQuery {
    SearchQuery { text, filter: RecordFilter { limit: Some(20), ..filter } }
}
