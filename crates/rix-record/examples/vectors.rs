//! Prints the test vectors of `docs/record-format.md`: run
//! `cargo run -p rix-record --example vectors` to regenerate them. The test `tests/vectors.rs`
//! checks the document against the implementation.

use rix_record::content::{Content, Metric, Publication, Withdrawal};
use rix_record::envelope::{SIGNING_CONTEXT, encode_payload};
use rix_record::{Author, KeyFactor, Kind, MemberKey, VerifiedRecord};

fn main() {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let key = MemberKey::from_seed(&seed);
    let author = Author::new("almaty-integrity", "KZ".parse().unwrap(), key);
    let at = "2007-01-19T10:00:00Z".parse().unwrap();

    let minimal =
        Publication::new(Kind::BestPractice, "Integrity hotline", "en".parse().unwrap(), vec![KeyFactor::Transparency]);
    let r1 = author.sign_next(None, Content::Publication(Box::new(minimal)), at).unwrap();

    let mut rich = Publication::new(
        Kind::BestPractice,
        "Горячая линия \"Антикоррупция\" / 廉政热线 / 倫理",
        "ru".parse().unwrap(),
        vec![KeyFactor::Transparency, KeyFactor::PrivateSector],
    );
    rich.summary = "Line one\nline two\ttabbed \u{1} control".into();
    rich.tags = vec!["hotline".into(), "whistleblowing".into()];
    rich.supersedes = Some(r1.id());
    rich.body = "# Заголовок\n\nТекст.\n".into();
    rich.best_practice = Some(rix_record::content::BestPractice {
        results: vec![Metric {
            name: "reports per year".into(),
            baseline: Some("12".parse().unwrap()),
            value: "85.5".parse().unwrap(),
            unit: None,
            date: None,
        }],
        ..Default::default()
    });
    let at2 = "2007-01-20T08:30:00Z".parse().unwrap();
    let r2 = author.sign_next(Some(r1.as_head()), Content::Publication(Box::new(rich)), at2).unwrap();

    let at3 = "2007-02-01T00:00:00Z".parse().unwrap();
    let w = Content::Withdrawal(Withdrawal { withdraws: r1.id(), reason: "Superseded.".into() });
    let r3 = author.sign_next(Some(r2.as_head()), w, at3).unwrap();

    for (name, r) in [("minimal-publication", &r1), ("second-record-unicode", &r2), ("withdrawal", &r3)] {
        print_vector(name, &seed, r);
    }
    eprintln!("signing context: {:?}", std::str::from_utf8(SIGNING_CONTEXT).unwrap());
}

fn print_vector(name: &str, seed: &[u8; 32], r: &VerifiedRecord) {
    let payload = encode_payload(r.record()).unwrap();
    println!("```rix-vector");
    println!("name: {name}");
    println!("seed: {}", hex::encode(seed));
    println!("author_key: {}", r.record().author_key);
    println!("payload: {}", String::from_utf8(payload.clone()).unwrap());
    println!("payload_hex: {}", hex::encode(&payload));
    println!("signature: {}", hex::encode(&r.bytes()[4..68]));
    println!("envelope_hex: {}", hex::encode(r.bytes()));
    println!("id: {}", r.id());
    println!("```\n");
}
