//! Replays the fuzz corpus (`fuzz/corpus/<target>.bin`, packed by `scripts/corpus.py`), every
//! input that once crashed a fuzz target (`fuzz/regressions/<target>/`) and one well-formed seed
//! of each format through the fuzz targets' own bodies, on stable Rust, in the default test
//! run. The fuzzers themselves run from `tests/fuzz.sh`.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code, missing_docs)]
mod targets;

use std::path::{Path, PathBuf};

use rix_net::protocol::{AuthorHead, SyncRequest, SyncResponse, write_request, write_response};
use rix_record::{Author, MemberKey, Timestamp, pack};

type Target = fn(&[u8]);
const TARGETS: [(&str, Target); 5] = [
    ("envelope", targets::envelope),
    ("sync_frames", targets::sync_frames),
    ("record_file", targets::record_file),
    ("config", targets::config),
    ("charter", targets::charter),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn request_frame(request: &SyncRequest) -> Vec<u8> {
    let mut out = futures::io::Cursor::new(Vec::new());
    futures::executor::block_on(write_request(&mut out, request)).unwrap();
    out.into_inner()
}

fn response_frame(response: &SyncResponse) -> Vec<u8> {
    let mut out = futures::io::Cursor::new(Vec::new());
    futures::executor::block_on(write_response(&mut out, response)).unwrap();
    out.into_inner()
}

/// Seed inputs: one well-formed example of each format, so fuzzing starts deep in each decoder.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let author = Author::new("rix-fuzz", "AA".parse().unwrap(), MemberKey::from_seed(&[1; 32]));
    let first = author
        .sign_next(None, rix_tests::content("seed record"), Timestamp::from_unix(1_700_000_000).unwrap())
        .unwrap();
    let second = author
        .sign_next(Some(first.as_head()), rix_tests::content("second"), Timestamp::from_unix(1_700_000_100).unwrap())
        .unwrap();
    let mut packed_v1 = Vec::new();
    pack::write_header_v1(&mut packed_v1).unwrap();
    for r in [&first, &second] {
        pack::write_entry_v1(&mut packed_v1, r.bytes()).unwrap();
    }
    let mut writer = pack::PackWriter::new(Vec::new()).unwrap();
    writer.write(pack::EntryKind::Record, first.bytes()).unwrap();
    writer.write(pack::EntryKind::Evidence, second.bytes()).unwrap();
    let packed = writer.finish().unwrap();
    let requests = [
        SyncRequest::Summary,
        SyncRequest::Fetch { author: "AA".into(), from: 1, to: 2, limit: 512 },
        SyncRequest::Charter { after: Some("61".repeat(33)) },
    ];
    let responses = [
        SyncResponse::Summary {
            network: "rix-fuzz".into(),
            heads: vec![AuthorHead { author: "AA".into(), contiguous: 2, max_seq: 2, held: 2 }],
            charter: Some(rix_net::protocol::CharterSummary {
                genesis: "ab".repeat(32),
                items: 2,
                digest: "cd".repeat(32),
            }),
        },
        SyncResponse::Charter { items: vec![b"RIXM\x01{}".to_vec()], count: 1, more: false },
        SyncResponse::records(vec![first.bytes().to_vec(), second.bytes().to_vec()], false),
        SyncResponse::Busy { retry_after_ms: 20 },
        SyncResponse::Error { message: "not admitted".into() },
    ];
    let mut out = vec![
        ("envelope", "valid".into(), first.bytes().to_vec()),
        ("envelope", "pack".into(), packed),
        ("envelope", "pack-v1".into(), packed_v1),
        ("config", "example".into(), std::fs::read(root.join("node-config/node.example.toml")).unwrap()),
        ("charter", "example".into(), std::fs::read(root.join("node-config/charter.example.toml")).unwrap()),
    ];
    for (i, r) in requests.iter().enumerate() {
        out.push(("sync_frames", format!("request-{i}"), request_frame(r)));
    }
    for (i, r) in responses.iter().enumerate() {
        out.push(("sync_frames", format!("response-{i}"), response_frame(r)));
    }
    for member in ["KZ", "JP", "RU"] {
        for f in rix_tests::sample_files(member).into_iter().take(2) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            out.push(("record_file", name, std::fs::read(f).unwrap()));
        }
    }
    out
}

/// The inputs of a packed corpus: 4-byte big-endian length, then the bytes, repeated.
fn unpack(blob: &[u8]) -> Vec<&[u8]> {
    let mut inputs = Vec::new();
    let mut rest = blob;
    while rest.len() >= 4 {
        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert!(rest.len() >= 4 + n, "truncated corpus file");
        inputs.push(&rest[4..4 + n]);
        rest = &rest[4 + n..];
    }
    assert!(rest.is_empty(), "trailing bytes in corpus file");
    inputs
}

#[test]
fn seeds_and_the_committed_corpus_and_regressions_replay_cleanly() {
    for (target, name, bytes) in seeds() {
        let run = TARGETS.iter().find(|(t, _)| *t == target).unwrap().1;
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{target} panics on seed {name}");
    }
    for (target, run) in TARGETS {
        let packed = fuzz_dir().join("corpus").join(format!("{target}.bin"));
        let blob = std::fs::read(&packed).unwrap_or_else(|e| panic!("{}: {e}", packed.display()));
        let inputs = unpack(&blob);
        assert!(inputs.len() >= 10, "{} holds a real corpus", packed.display());
        for (i, input) in inputs.iter().enumerate() {
            let outcome = std::panic::catch_unwind(|| run(input));
            assert!(outcome.is_ok(), "{target} panics on input {i} of {}", packed.display());
        }
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join("regressions").join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{target} panics on {}", path.display());
        }
    }
}
