//! Search latency and index size over a large replica: RIX_BENCH_SEARCH_RECORDS generated records
//! (default 100,000) in English, Russian, Chinese and Japanese; 400 queries of several shapes.
//! Prints median and p99 latency of list and stats on the replica, of each search shape, and
//! the index size. Run with `cargo bench -p rix-tests --bench search`.

use std::time::{Duration, Instant};

use rix_record::{Author, KeyFactor, MemberKey};
use rix_search::{SearchIndex, SearchQuery};
use rix_store::query::RecordFilter;
use rix_store::{Replica, ReplicaOptions};
use rix_tests::corpus::{self, EN, JA, Lcg, RU, ZH};
use rix_tests::ms;

/// Builds one query of a shape.
type MakeQuery = dyn Fn(&mut Lcg) -> SearchQuery;

fn main() {
    let n: usize = std::env::var("RIX_BENCH_SEARCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let replica = Replica::open(&dir.path().join("replica"), &ReplicaOptions::default()).unwrap();
    let author = Author::new("bench", "KZ".parse().unwrap(), MemberKey::from_seed(&[3; 32]));
    let t = Instant::now();
    for chunk in corpus::generate(&author, n, 120, 7).chunks(2048) {
        replica.insert_batch(chunk).unwrap();
    }
    let mut rng = Lcg(11);
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
    let time = |label: &str, runs: usize, f: &mut dyn FnMut()| {
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "  {label:<32} median {:>8.2} ms   p99 {:>8.2} ms",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[(times.len() * 99) / 100].as_secs_f64() * 1000.0
        );
    };
    println!("queries on the replica (no search index):");
    time("list --limit 20", 40, &mut || {
        std::hint::black_box(replica.list(&RecordFilter { limit: Some(20), ..Default::default() }).unwrap());
    });
    time("list --factor F --limit 20", 40, &mut || {
        let filter = RecordFilter { factor: Some(KeyFactor::ALL[rng.next(10)]), limit: Some(20), ..Default::default() };
        std::hint::black_box(replica.list(&filter).unwrap());
    });
    time("stats (from index entries)", 3, &mut || {
        std::hint::black_box(replica.stats(&["KZ".parse().unwrap()]).unwrap());
    });
    // What every sync round computes, on both sides: each member's chain head and gaps. The
    // first round after start reads the whole chain index; later rounds resume after the
    // gap-free prefix seen before.
    let t = Instant::now();
    std::hint::black_box(replica.chain_heads().unwrap());
    println!("  {:<32} {:>8.2} ms (first round after start: the whole chain index)", "sync summary", ms(t.elapsed()));
    time("sync summary, later rounds", 40, &mut || {
        std::hint::black_box(replica.chain_heads().unwrap());
    });
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
