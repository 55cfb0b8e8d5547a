//! The fuzz targets' bodies: each feeds arbitrary bytes to one decoder that takes input from
//! outside and checks the properties that must hold whatever the input. The libFuzzer binaries
//! in `fuzz_targets/` call these; `tests/tests/fuzz_corpus.rs` replays the committed corpus
//! through the same functions on stable Rust, in the default test run.

use std::path::Path;

use rix_net::protocol::{read_request, read_response, write_request, write_response};
use rix_record::{Charter, CharterMember, MemberKey, SignedRecord, file::parse_record_text, pack::PackReader};

/// The charter envelopes are verified against: two members with fixed seeds (`AA`: all 0x01,
/// `BB`: all 0x02) on network `rix-fuzz`, so valid corpus entries reach the deepest checks.
pub fn charter_for_fuzzing() -> Charter {
    let mut charter = Charter::new("rix-fuzz");
    for (code, seed) in [("AA", [1u8; 32]), ("BB", [2u8; 32])] {
        charter.upsert_member(CharterMember {
            code: code.parse().expect("member code"),
            name: code.into(),
            public_key: MemberKey::from_seed(&seed).author_key(),
            peer_id: String::new(),
            addresses: Vec::new(),
        });
    }
    charter
}

/// A signed record envelope from the network or an import: verification never panics, and a
/// record that verifies re-encodes to exactly the bytes that were signed. Also reads the bytes
/// as a `signed` export pack.
pub fn envelope(data: &[u8]) {
    let charter = charter_for_fuzzing();
    let signed = SignedRecord::from_bytes(data.to_vec());
    if let Ok(verified) = signed.verify(&charter) {
        assert_eq!(verified.bytes(), data, "a verified record is exactly its bytes");
        assert_eq!(verified.id(), signed.id());
        let again = SignedRecord::from_bytes(verified.bytes().to_vec()).verify(&charter);
        assert!(again.is_ok(), "verification is deterministic");
    }
    if let Ok(reader) = PackReader::new(data) {
        for (_kind, bytes) in reader.take(1024).flatten() {
            let _ = SignedRecord::from_bytes(bytes).verify(&charter);
        }
    }
}

/// A `/rix/sync/1` request or response frame: decoding never panics or over-allocates, and
/// whatever decodes re-encodes to something that decodes to the same value.
pub fn sync_frames(data: &[u8]) {
    futures::executor::block_on(async {
        if let Ok(request) = read_request(&mut &data[..]).await {
            let mut out = futures::io::Cursor::new(Vec::new());
            write_request(&mut out, &request).await.expect("writing to memory");
            let back = read_request(&mut &out.get_ref()[..]).await.expect("a written request reads back");
            assert_eq!(back, request);
        }
        if let Ok(response) = read_response(&mut &data[..]).await {
            let mut out = futures::io::Cursor::new(Vec::new());
            write_response(&mut out, &response).await.expect("writing to memory");
            let back = read_response(&mut &out.get_ref()[..]).await.expect("a written response reads back");
            assert_eq!(back, response);
        }
    });
}

/// A record file (Markdown with TOML front matter, or JSON): parsing never panics.
pub fn record_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_record_text(text, Path::new("fuzz.md"));
        let _ = parse_record_text(text, Path::new("fuzz.json"));
    }
}

/// A node config file: parsing and validation never panic.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rix_node::NodeConfig::parse(text, Path::new("config.toml"));
    }
}

/// A charter file: parsing never panics, and a parsed charter re-parses from the text it
/// saves as to itself.
pub fn charter(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(charter) = Charter::parse(text, Path::new("charter.toml"))
    {
        let back = Charter::parse(&charter.to_toml(), Path::new("charter.toml")).expect("saved text parses");
        assert_eq!(back, charter);
    }
}
