//! The record pipeline on this machine: sign, verify (one by one and batched, and the ed25519
//! part alone), store (batched, with and without fdatasync, and one record per flush). Prints records per second as the
//! median (and min-max) of several runs; run with `cargo bench -p rix-store --bench pipeline`.
//! Set `RIX_BENCH_RECORDS` to change the records per run (default 4000).

use std::time::Instant;

use rix_record::content::{Content, Publication};
use rix_record::{Author, Charter, KeyFactor, Kind, MemberKey, SignedRecord, Timestamp, VerifiedRecord};
use rix_store::{Replica, ReplicaOptions};

const RUNS: usize = 5;

fn main() {
    let n: usize = std::env::var("RIX_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let key = MemberKey::from_seed(&[7; 32]);
    let charter = Charter::with_member("bench", "KZ".parse().unwrap(), &key);
    let author = Author::new("bench", "KZ".parse().unwrap(), key);
    // A realistic record: about 1 KiB of payload.
    let body = "Integrity measures at the border post. ".repeat(22);
    let content = |i: usize| {
        let mut p = Publication::new(
            Kind::BestPractice,
            format!("Practice {i}"),
            "en".parse().unwrap(),
            vec![KeyFactor::Transparency, KeyFactor::Hrm],
        );
        p.body = body.clone();
        Content::Publication(Box::new(p))
    };
    let now = Timestamp::now();

    let mut records: Vec<VerifiedRecord> = Vec::new();
    let sign = measure(n, || {
        records.clear();
        let mut head = None;
        for i in 0..n {
            let r = author.sign_next(head, content(i), now).unwrap();
            head = Some(r.as_head());
            records.push(r);
        }
    });
    let size: usize = records.iter().map(|r| r.bytes().len()).sum::<usize>() / n;
    let envelopes: Vec<SignedRecord> = records.iter().map(VerifiedRecord::signed).collect();
    let verify = measure(n, || {
        for e in &envelopes {
            e.verify(&charter).unwrap();
        }
    });
    let verify_batched = measure(n, || {
        for chunk in envelopes.chunks(512) {
            for r in rix_record::verify_batch(chunk, &charter) {
                r.unwrap();
            }
        }
    });
    // The ed25519 part alone, for the ratio to the rates above.
    let verifying_key = *author.key().author_key().verifying_key();
    let signed_parts: Vec<(Vec<u8>, ed25519_dalek::Signature)> = envelopes
        .iter()
        .map(|e| {
            let sig = ed25519_dalek::Signature::from_bytes(e.bytes()[4..68].try_into().unwrap());
            (rix_record::envelope::signing_input(&e.bytes()[68..]), sig)
        })
        .collect();
    let ed25519_single = measure(n, || {
        for (message, sig) in &signed_parts {
            verifying_key.verify_strict(message, sig).unwrap();
        }
    });
    let ed25519_batch = measure(n, || {
        for chunk in signed_parts.chunks(512) {
            let messages: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
            let sigs: Vec<ed25519_dalek::Signature> = chunk.iter().map(|(_, s)| *s).collect();
            ed25519_dalek::verify_batch(&messages, &sigs, &vec![verifying_key; chunk.len()]).unwrap();
        }
    });
    let store_batched = measure(n, || {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
        for chunk in records.chunks(512) {
            replica.insert_batch(chunk).unwrap();
        }
    });
    let store_batched_no_fsync = measure(n, || {
        let dir = tempfile::tempdir().unwrap();
        let options = ReplicaOptions { fsync: false, ..ReplicaOptions::default() };
        let replica = Replica::open(dir.path(), &options).unwrap();
        for chunk in records.chunks(512) {
            replica.insert_batch(chunk).unwrap();
        }
    });
    let single = n.min(500);
    let store_single = measure(single, || {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
        for r in &records[..single] {
            replica.insert(r).unwrap();
        }
    });
    println!("record pipeline, {n} records of {size} bytes per run, median of {RUNS} runs (min-max), records/s:");
    println!("{:<44}{}", "sign (canonical encode + ed25519)", sign);
    println!("{:<44}{}", "verify (decode + canonical check + ed25519)", verify);
    println!("{:<44}{}", "verify, batches of 512 (verify_batch)", verify_batched);
    println!("{:<44}{}", "  ed25519 verify_strict alone", ed25519_single);
    println!("{:<44}{}", "  ed25519 verify_batch (512) alone", ed25519_batch);
    println!("{:<44}{}", "store, batches of 512 (flush + fdatasync)", store_batched);
    println!("{:<44}{}", "store, batches of 512 (flush, no fdatasync)", store_batched_no_fsync);
    println!("{:<44}{}", format!("store, one flush per record ({single})"), store_single);
}

struct Rate {
    median: f64,
    min: f64,
    max: f64,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:>9.0}  ({:.0}-{:.0})", self.median, self.min, self.max)
    }
}

fn measure(n: usize, mut run: impl FnMut()) -> Rate {
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            run();
            n as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    Rate { median: rates[RUNS / 2], min: rates[0], max: rates[RUNS - 1] }
}
