//! The signing journal's write, which every publish waits for before its record may leave the
//! node: the two-slot file written in place with one `fdatasync` (what rix does), against the
//! create, `fsync`, rename, directory `fsync` sequence it replaced. Median and p99 of
//! RIX_BENCH_JOURNAL_WRITES writes each (default 300), alternating so both see the same disk.
//!
//! `cargo bench -p rix-node --bench journal`

use std::io::Write;
use std::time::{Duration, Instant};

use rix_node::journal::SigningJournal;
use rix_record::content::{Content, Publication};
use rix_record::{Author, KeyFactor, Kind, MemberKey, Timestamp, VerifiedRecord};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// The replaced sequence: temporary file, fsync, rename, fsync of the directory.
fn write_by_rename(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, path).unwrap();
    std::fs::File::open(path.parent().unwrap()).unwrap().sync_all().unwrap();
}

fn main() {
    let writes: usize = std::env::var("RIX_BENCH_JOURNAL_WRITES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    // Under target/, so the writes hit the same disk as a node's files (not a tmpfs /tmp).
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).unwrap();
    let author = Author::new("bench", "KZ".parse().unwrap(), MemberKey::from_seed(&[9; 32]));
    let mut body = Publication::new(Kind::BestPractice, "Journal", "en".parse().unwrap(), vec![KeyFactor::Automation]);
    body.body = "Measures and results. ".repeat(40);
    let record: VerifiedRecord =
        author.sign_next(None, Content::Publication(Box::new(body)), Timestamp::now()).unwrap();
    let journal = SigningJournal::new(dir.path().join("slots.rix"));
    journal.create_fresh().unwrap();
    let renamed = dir.path().join("renamed.rix");
    let (mut slots, mut rename) = (Vec::with_capacity(writes), Vec::with_capacity(writes));
    for _ in 0..writes {
        let t = Instant::now();
        journal.write_last(&record).unwrap();
        slots.push(t.elapsed());
        let t = Instant::now();
        write_by_rename(&renamed, record.bytes());
        rename.push(t.elapsed());
    }
    slots.sort();
    rename.sort();
    println!(
        "signing journal, {writes} writes of a {} B record: two slots + fdatasync median {:.2} ms, p99 {:.2} ms; create + fsync + rename + fsync dir median {:.2} ms, p99 {:.2} ms ({:.1}x the median)",
        record.bytes().len(),
        percentile(&slots, 0.5),
        percentile(&slots, 0.99),
        percentile(&rename, 0.5),
        percentile(&rename, 0.99),
        percentile(&rename, 0.5) / percentile(&slots, 0.5)
    );
}
