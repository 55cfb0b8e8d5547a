//! The `rix` binary against real node directories and sled stores, with no daemon running:
//! publishing and querying, signed export and import, rejection of forged records, gap and
//! equivocation reports, and set-up errors.

use std::path::Path;

use rix_api::record::content::{Content, Publication};
use rix_api::record::pack;
use rix_api::record::{Author, KeyFactor, Kind, MemberKey, Timestamp};
use rix_tests::{Rix, SIGNATORIES, TestNet, sample_files};

fn rix() -> Rix {
    Rix::new(env!("CARGO_BIN_EXE_rix"))
}

fn write_record(dir: &Path, name: &str, front: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("+++\n{front}\n+++\n{body}")).unwrap();
    path.to_str().unwrap().to_owned()
}

fn ids_of(list: &serde_json::Value) -> Vec<String> {
    list["records"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn publish_then_list_show_and_filter_find_it() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let kz = net.node("KZ").config_arg();
    let file = write_record(
        net.root.path(),
        "hotline.md",
        "kind = \"best-practice\"\ntitle = \"Integrity hotline\"\nlanguage = \"en\"\nfactors = [\"transparency\"]\ntags = [\"hotline\"]",
        "Calls are answered around the clock.\n",
    );
    let published = rix.json(&["--config", kz, "publish", &file]);
    let id = published["id"].as_str().unwrap().to_owned();
    assert_eq!((published["seq"].as_u64(), published["author"].as_str()), (Some(1), Some("KZ")));

    let list = rix.json(&["--config", kz, "list"]);
    assert_eq!(ids_of(&list), vec![id.clone()]);
    let record = &list["records"][0];
    for field in [
        "id",
        "author",
        "seq",
        "kind",
        "title",
        "summary",
        "language",
        "factors",
        "tags",
        "created_at",
        "supersedes",
        "withdrawn",
    ] {
        assert!(record.get(field).is_some(), "list record lacks {field}: {record}");
    }
    assert_eq!(record["withdrawn"], false);

    let shown = rix.json(&["--config", kz, "show", &id[..8]]);
    assert_eq!(shown["body"], "Calls are answered around the clock.\n");
    assert_eq!(shown["title"], "Integrity hotline");

    assert_eq!(
        ids_of(&rix.json(&[
            "--config",
            kz,
            "list",
            "--factor",
            "transparency",
            "--kind",
            "best-practice",
            "--member",
            "KZ"
        ])),
        vec![id.clone()]
    );
    assert!(ids_of(&rix.json(&["--config", kz, "list", "--factor", "hrm"])).is_empty());
    assert!(ids_of(&rix.json(&["--config", kz, "list", "--member", "JP"])).is_empty());
    assert!(ids_of(&rix.json(&["--config", kz, "list", "--since", "2999-01-01"])).is_empty());

    // The human table names it too.
    assert!(rix.ok(&["--config", kz, "list"]).contains("Integrity hotline"));
    // Withdrawal hides it by default and shows it with --include-withdrawn.
    rix.ok(&["--config", kz, "withdraw", &id[..10], "--reason", "duplicate"]);
    assert!(ids_of(&rix.json(&["--config", kz, "list"])).is_empty());
    let all = rix.json(&["--config", kz, "list", "--include-withdrawn"]);
    assert_eq!(all["records"][0]["withdrawn"], true);

    // The withdrawal record itself, with its reason and target, with --withdrawals: in the
    // listing, the table and the view exports; never with filters it cannot match.
    let with = rix.json(&["--config", kz, "list", "--withdrawals"]);
    let w = &with["records"][0];
    assert_eq!((w["kind"].as_str(), w["summary"].as_str()), (Some("withdrawal"), Some("duplicate")), "{with}");
    assert_eq!(w["withdraws"].as_str(), Some(id.as_str()));
    assert_eq!(with["records"].as_array().unwrap().len(), 1, "the withdrawn record stays hidden: {with}");
    assert!(rix.ok(&["--config", kz, "list", "--withdrawals"]).contains("withdrawal"));
    let both = rix.json(&["--config", kz, "list", "--withdrawals", "--include-withdrawn", "--member", "KZ"]);
    assert_eq!(both["records"].as_array().unwrap().len(), 2, "{both}");
    let jsonl = rix.ok(&["--config", kz, "export", "--format", "jsonl", "--withdrawals"]);
    assert!(jsonl.lines().any(|l| l.contains("\"kind\":\"withdrawal\"") && l.contains(&id)), "{jsonl}");
    let csv = rix.ok(&["--config", kz, "export", "--format", "csv", "--withdrawals"]);
    assert!(csv.lines().any(|l| l.contains(",withdrawal,")), "{csv}");
    let out = rix.run(&["--config", kz, "list", "--withdrawals", "--kind", "event"]);
    assert_eq!(out.status.code(), Some(2), "withdrawals have no kind: a usage error");
}

/// Publishes every member's sample records on its own node, offline.
fn publish_samples(rix: &Rix, net: &TestNet) {
    for node in &net.nodes {
        let files: Vec<String> = sample_files(&node.member).iter().map(|p| p.to_str().unwrap().to_owned()).collect();
        if files.is_empty() {
            continue;
        }
        let mut args = vec!["--config", node.config_arg(), "publish"];
        args.extend(files.iter().map(String::as_str));
        rix.ok(&args);
    }
}

#[test]
fn samples_export_signed_and_import_into_a_fresh_store_with_identical_ids() {
    let rix = rix();
    let mut members = SIGNATORIES.to_vec();
    members.push("WCO");
    let net = TestNet::init(&rix, &members);
    publish_samples(&rix, &net);

    // Gather every member's records on the WCO node by signed export and import.
    let wco = net.node("WCO").config_arg();
    for node in net.nodes.iter().filter(|n| n.member != "WCO") {
        let pack = net.root.path().join(format!("{}.rixpack", node.member));
        rix.ok(&["--config", node.config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);
        let report = rix.json(&["--config", wco, "import", pack.to_str().unwrap()]);
        assert_eq!(report["rejected"].as_array().unwrap().len(), 0, "{report}");
    }
    let verify = rix.json(&["--config", wco, "verify"]);
    assert_eq!(verify["checked"], verify["valid"]);
    assert_eq!(verify["checked"].as_u64(), Some(34));
    assert!(verify["failures"].as_array().unwrap().is_empty());

    // Round trip through one export of everything into a store that has never seen them.
    let all = net.root.path().join("all.rixpack");
    rix.ok(&["--config", wco, "export", "--format", "signed", "--out", all.to_str().unwrap()]);
    let az = net.node("AZ").config_arg();
    // AZ holds only its own records so far; after import it must hold exactly WCO's set.
    let report = rix.json(&["--config", az, "import", all.to_str().unwrap()]);
    assert_eq!(report["read"].as_u64(), Some(34));
    let everything = ["list", "--all-versions", "--include-withdrawn"];
    let ids = |cfg: &str| {
        let mut args = vec!["--config", cfg];
        args.extend(everything);
        let mut ids = ids_of(&rix.json(&args));
        ids.sort();
        ids
    };
    assert_eq!(ids(az), ids(wco));
    assert_eq!(ids(az).len(), 33, "34 records less the one withdrawal record");

    // Statistics: the member x key factor table, with all nine members and all ten factors.
    let stats = rix.json(&["--config", wco, "stats"]);
    assert_eq!(stats["members"].as_array().unwrap().len(), 10);
    assert_eq!(stats["factors"].as_array().unwrap().len(), 10);
    assert_eq!(stats["superseded"].as_u64(), Some(2));
    assert_eq!(stats["withdrawn"].as_u64(), Some(1));
    // Search, history and reports over the same replica, through the binary.
    let found = rix.json(&["--config", wco, "search", "随机派单"]);
    assert_eq!(found["records"][0]["title"], "通关作业无纸化与廉政风险防控");
    assert!(found["records"][0]["snippet"].is_string() && found["records"][0]["score"].is_number());
    let none = rix.run(&["--config", wco, "search", "zzzyxnotaword"]);
    assert!(none.status.success());
    assert!(String::from_utf8_lossy(&none.stdout).contains("No records match"));
    let plan = rix.json(&["--config", wco, "search", "--member", "KZ", "--kind", "action-plan", "план"]);
    let plan_id = plan["records"][0]["id"].as_str().unwrap().to_owned();
    let history = rix.json(&["--config", wco, "history", &plan_id[..10]]);
    let versions = history["records"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "the KZ plan and its 2025 revision");
    assert_eq!(versions[1]["id"], plan_id.as_str());
    assert_eq!(versions[0]["superseded_by"], plan_id.as_str());
    let old = rix.ok(&["--config", wco, "show", versions[0]["id"].as_str().unwrap()]);
    assert!(old.contains("superseded by"), "{old}");
    let html = net.root.path().join("report.html");
    rix.ok(&["--config", wco, "export", "--format", "html", "--out", html.to_str().unwrap()]);
    let html = std::fs::read_to_string(html).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<nav>") && html.contains("通关作业无纸化与廉政风险防控")
    );
    assert!(!html.contains("<script") && !html.contains("src=\"http"), "self-contained, no scripts");
    let csv = rix.ok(&["--config", wco, "export", "--format", "csv", "--bom"]);
    assert!(csv.starts_with('\u{feff}') && csv.lines().next().unwrap().contains("factors"));
    let md = rix.ok(&["--config", wco, "export", "--format", "md"]);
    assert!(md.contains("## Contents") && md.contains("## Human Resource Management"));
    let reindexed = rix.json(&["--config", wco, "reindex"]);
    assert_eq!(reindexed["indexed"].as_u64(), Some(33));
    assert_eq!(
        rix.json(&["--config", wco, "search", "随机派单"])["records"][0]["title"],
        "通关作业无纸化与廉政风险防控"
    );

    let table = rix.ok(&["--config", wco, "stats"]);
    assert!(table.contains("MEMBER  LEAD") && table.contains("TOTAL"), "{table}");
    for code in SIGNATORIES {
        assert!(table.lines().any(|l| l.starts_with(code)), "no row for {code}:\n{table}");
    }
}

#[test]
fn forged_and_damaged_records_are_rejected_by_import_and_nothing_is_stored() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let kz = net.node("KZ");
    rix.ok(&["--config", kz.config_arg(), "publish", sample_files("KZ")[0].to_str().unwrap()]);
    let pack_path = net.root.path().join("kz.rixpack");
    rix.ok(&["--config", kz.config_arg(), "export", "--format", "signed", "--out", pack_path.to_str().unwrap()]);
    let good = rix_tests::read_pack(&pack_path).remove(0);

    // Another network's KZ (a key not in this charter), and a non-member.
    let other = TestNet::init(&rix, &["KZ", "XX"]);
    let at = Timestamp::now();
    let sign_as = |node: &rix_tests::NodeDir, title: &str| {
        let key = MemberKey::load(&node.dir.join("keys/signing.key")).unwrap();
        let p = Publication::new(Kind::CaseStudy, title, "en".parse().unwrap(), vec![KeyFactor::Hrm]);
        Author::new("rix-test", node.member.parse().unwrap(), key)
            .sign_next(None, Content::Publication(Box::new(p)), at)
            .unwrap()
            .bytes()
            .to_vec()
    };
    let impostor = sign_as(other.node("KZ"), "claims to be KZ");
    let outsider = sign_as(other.node("XX"), "not a member");
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n / 2] ^= 0x20;
    let truncated = good[..good.len() - 10].to_vec();

    let bad_pack = net.root.path().join("bad.rixpack");
    rix_tests::write_pack(&bad_pack, [&flipped, &impostor, &outsider, &truncated]);

    let jp = net.node("JP").config_arg();
    let out = rix.command().args(["--json", "--config", jp, "import", bad_pack.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "import of forged records must fail");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons: Vec<&str> =
        report["rejected"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 4);
    assert!(["bad_signature", "malformed", "non_canonical"].contains(&reasons[0]), "{reasons:?}");
    assert_eq!(&reasons[1..], ["key_mismatch", "unknown_author", "truncated"]);
    assert_eq!(report["stored"].as_u64(), Some(0));
    assert!(ids_of(&rix.json(&["--config", jp, "list", "--all-versions", "--include-withdrawn"])).is_empty());
    assert_eq!(rix.json(&["--config", jp, "verify"])["checked"].as_u64(), Some(0));

    // An entry claiming more than the record limit stops the import with a clear error.
    let oversized = net.root.path().join("oversized.rixpack");
    let mut bytes = pack::PACK_MAGIC.to_vec();
    bytes.push(1);
    bytes.extend_from_slice(&(300_000u32).to_be_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 300_000));
    std::fs::write(&oversized, bytes).unwrap();
    let out = rix.run(&["--config", jp, "import", oversized.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("over the 262144-byte record limit"));
}

#[test]
fn gaps_and_equivocations_are_reported_by_verify_and_status() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let kz = net.node("KZ");
    let key = MemberKey::load(&kz.dir.join("keys/signing.key")).unwrap();
    let author = Author::new("rix-test", "KZ".parse().unwrap(), key);
    let at = Timestamp::now();
    let content = |t: &str| {
        Content::Publication(Box::new(Publication::new(
            Kind::Event,
            t,
            "ru".parse().unwrap(),
            vec![KeyFactor::Leadership],
        )))
    };
    let r1 = author.sign_next(None, content("one"), at).unwrap();
    let r1_twin = author.sign_next(None, content("one, signed again"), at).unwrap();
    let r2 = author.sign_next(Some(r1.as_head()), content("two"), at).unwrap();
    let r3 = author.sign_next(Some(r2.as_head()), content("three"), at).unwrap();
    let path = net.root.path().join("kz.rixpack");
    rix_tests::write_pack(&path, [&r1, &r1_twin, &r3].map(|r| r.bytes()));

    let jp = net.node("JP").config_arg();
    let report = rix.json(&["--config", jp, "import", path.to_str().unwrap()]);
    assert_eq!((report["stored"].as_u64(), report["equivocations"].as_u64()), (Some(2), Some(1)));
    let verify = rix.json(&["--config", jp, "verify"]);
    let chain = &verify["chains"][0];
    assert_eq!(chain["member"], "KZ");
    assert_eq!(chain["missing"], serde_json::json!([[2, 2]]));
    let equivocation = &verify["equivocations"][0];
    assert_eq!((equivocation["member"].as_str(), equivocation["seq"].as_u64()), (Some("KZ"), Some(1)));
    assert_eq!(equivocation["ids"].as_array().unwrap().len(), 2);
    let text = rix.ok(&["--config", jp, "verify"]);
    assert!(text.contains("missing #2") && text.contains("EQUIVOCATION: KZ"), "{text}");
    let status = rix.json(&["--config", jp, "status"]);
    assert_eq!(status["equivocations"][0]["seq"].as_u64(), Some(1));
}

#[test]
fn init_protects_keys_and_config_errors_name_file_and_field() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(kz.dir.join("keys/signing.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = rix.run(&["init", "--dir", kz.dir.to_str().unwrap(), "--member", "KZ"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    std::fs::write(&kz.config, "member = \"KZ\"\n[api]\nlisten = \"nowhere\"\n").unwrap();
    let out = rix.run(&["--config", kz.config_arg(), "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(kz.config_arg()) && err.contains("api.listen"), "{err}");

    let usage = rix.run(&["list", "--kind", "gossip"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn a_record_file_error_names_file_line_and_field_and_publishes_nothing() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let good = write_record(
        net.root.path(),
        "a.md",
        "kind = \"event\"\ntitle = \"ok\"\nlanguage = \"en\"\nfactors = [\"hrm\"]",
        "",
    );
    let bad = write_record(
        net.root.path(),
        "b.md",
        "kind = \"event\"\ntitle = \"bad\"\nlanguage = \"en\"\nfactors = [\"integrity\"]",
        "",
    );
    let out = rix.run(&["--config", net.node("KZ").config_arg(), "publish", &good, &bad]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("b.md:5: field `factors[0]`") && err.contains("unknown key factor"), "{err}");
    assert!(ids_of(&rix.json(&["--config", net.node("KZ").config_arg(), "list"])).is_empty());
}

#[test]
fn offline_publish_refuses_when_the_signing_history_is_unknown() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    let file = write_record(
        net.root.path(),
        "a.md",
        "kind = \"event\"\ntitle = \"one\"\nlanguage = \"en\"\nfactors = [\"hrm\"]",
        "",
    );
    assert_eq!(rix.json(&["--config", kz.config_arg(), "publish", &file])["seq"], 1);
    // A key restored without its journal, onto an empty store: the next number is unknown.
    std::fs::remove_file(kz.dir.join("keys/last-signed.rix")).unwrap();
    std::fs::remove_dir_all(kz.dir.join("data/replica")).unwrap();
    let out = rix.run(&["--config", kz.config_arg(), "publish", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not know which record KZ signed last") && err.contains("Start the daemon"), "{err}");
    assert_eq!(rix.json(&["--config", kz.config_arg(), "status"])["records"], 0);
}

#[test]
fn new_writes_a_template_that_dry_runs_and_refuses_to_overwrite() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let path = net.root.path().join("practice.md");
    let out = rix.run(&["new", "best-practice", "--out", path.to_str().unwrap()]);
    assert!(out.status.success());
    let dry = rix.json(&["publish", "--dry-run", path.to_str().unwrap()]);
    assert_eq!(dry["dry_run"][0]["valid"], true);
    assert_eq!(rix.run(&["new", "event", "--out", path.to_str().unwrap()]).status.code(), Some(1));
    for kind in ["integrity-strategy", "case-study", "action-plan", "code-of-conduct", "event", "self-assessment"] {
        assert!(rix.ok(&["new", kind]).contains(&format!("kind = \"{kind}\"")));
    }
}

/// `rix status | head -1`: a reader that closes the pipe early is a normal end, exit 0 and no
/// panic, whatever the command and the output format.
#[test]
fn a_closed_stdout_is_a_normal_exit_on_every_command() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ").config_arg();
    for f in sample_files("KZ") {
        rix.ok(&["--config", kz, "publish", f.to_str().unwrap()]);
    }
    let commands: [&[&str]; 9] = [
        &["status"],
        &["--json", "status"],
        &["list"],
        &["--json", "list"],
        &["stats"],
        &["peers"],
        &["export", "--format", "md"],
        &["export", "--format", "csv"],
        &["charter", "show"],
    ];
    for args in commands {
        let mut child = rix
            .command()
            .args(["--config", kz])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before reading anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "rix {args:?}: {} {}", out.status, String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "rix {args:?} panicked");
    }
}

/// A broken daemon: answers the health probe, then every request with `200 OK` and the body
/// `answer` gives for its path. It stands for a daemon of another version or a corrupted one;
/// a real daemon never sends these.
fn broken_daemon(port: u16, answer: fn(&str) -> String) -> std::thread::JoinHandle<()> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(false).unwrap();
    std::thread::spawn(move || {
        // Bounded: each CLI run below makes two requests (health, then the command's).
        for stream in listener.incoming().take(40) {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let body = if path.starts_with("/v1/health") { "{\"ok\":true}".to_owned() } else { answer(&path) };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    })
}

/// Whatever a daemon answers, the CLI reads it into typed views or says it cannot: exit 1 and a
/// sentence naming the request, never a panic.
#[test]
fn an_unreadable_answer_from_the_daemon_is_an_error_not_a_panic() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    std::fs::write(kz.dir.join("data/api.token"), "token").unwrap();
    let _daemon = broken_daemon(kz.api_port, |path| {
        let bad_id = r#"{"id":"not-an-id","author":"KZ","seq":1,"prev":null,"kind":"event","title":"t","summary":"","language":"en","factors":[],"approaches":[],"stages":[],"themes":[],"tags":[],"created_at":"2026-01-01T00:00:00Z","supersedes":null,"superseded_by":null,"withdrawn":false,"withdrawal":null,"withdraws":null,"period":null,"contact_unit":null,"related":[]}"#;
        match path.split('?').next().unwrap_or_default() {
            "/v1/records" => format!("{{\"records\":[{bad_id}]}}"),
            "/v1/export" => "{\"records\": 5}\n".to_owned(),
            "/v1/stats" => "{\"records_stored\":\"many\"}".to_owned(),
            "/v1/status" => "[1, 2, 3]".to_owned(),
            p if p.starts_with("/v1/records/") => bad_id.replace("2026-01-01T00:00:00Z", "yesterday"),
            _ => "not json at all".to_owned(),
        }
    });
    let commands: [&[&str]; 7] = [
        &["list"],
        &["--json", "list"],
        &["show", "abcd"],
        &["stats"],
        &["status"],
        &["peers"],
        &["export", "--format", "csv"],
    ];
    for args in commands {
        let out = rix.run(&[&["--config", kz.config_arg()][..], args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "rix {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "rix {args:?} panicked: {stderr}");
        assert!(stderr.contains("unreadable answer to /v1/"), "rix {args:?}: {stderr}");
    }
}

/// A signed pack proves it is whole: cut anywhere, or with entries dropped, duplicated or
/// reordered, `rix import` refuses it, says what is wrong, and stores nothing. Packs of the
/// first version still import, and equivocation evidence travels in a pack.
#[test]
fn a_damaged_pack_is_refused_before_anything_is_stored_and_evidence_travels() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let (kz, jp) = (net.node("KZ").config_arg(), net.node("JP").config_arg());
    for f in sample_files("KZ").iter().take(3) {
        rix.ok(&["--config", kz, "publish", f.to_str().unwrap()]);
    }
    let path = net.root.path().join("kz.rixpack");
    rix.ok(&["--config", kz, "export", "--format", "signed", "--out", path.to_str().unwrap()]);
    let whole = std::fs::read(&path).unwrap();
    let envelopes = rix_tests::read_pack(&path);
    assert_eq!(envelopes.len(), 3);
    // Entry boundaries of the whole pack (after the 8-byte header; each entry is 5 + length).
    let mut bounds = vec![8];
    for e in &envelopes {
        bounds.push(bounds.last().unwrap() + 5 + e.len());
    }
    let (body, end) = (&whole[8..bounds[3]], &whole[bounds[3]..]);
    let entry = |i: usize| &whole[bounds[i]..bounds[i + 1]];
    let spliced = |entries: &[usize]| {
        let mut out = pack::PACK_MAGIC.to_vec();
        for i in entries {
            out.extend_from_slice(entry(*i));
        }
        out.extend_from_slice(end);
        out
    };
    assert_eq!(&spliced(&[0, 1, 2])[..], &whole[..], "the splice helper rebuilds the pack");
    let damaged: [(&str, Vec<u8>, &str); 6] = [
        ("cut at an entry boundary", whole[..bounds[2]].to_vec(), "cut short"),
        ("cut inside an entry", whole[..bounds[2] + 7].to_vec(), "cut short"),
        ("end marker lost", [&pack::PACK_MAGIC[..], body].concat(), "cut short"),
        ("an entry dropped", spliced(&[0, 2]), "entries were dropped or added"),
        ("an entry duplicated", spliced(&[0, 1, 1, 2]), "entries were dropped or added"),
        ("entries reordered", spliced(&[1, 0, 2]), "do not match its digest"),
    ];
    for (what, bytes, says) in damaged {
        let bad = net.root.path().join("damaged.rixpack");
        std::fs::write(&bad, bytes).unwrap();
        let out = rix.run(&["--config", jp, "import", bad.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(says) && stderr.contains("damaged.rixpack"), "{what}: {stderr}");
        assert_eq!(rix.json(&["--config", jp, "verify"])["checked"].as_u64(), Some(0), "{what}: nothing stored");
    }

    // The first version of the format, without an end marker, still imports.
    let v1 = net.root.path().join("v1.rixpack");
    let mut f = std::fs::File::create(&v1).unwrap();
    pack::write_header_v1(&mut f).unwrap();
    for e in &envelopes {
        pack::write_entry_v1(&mut f, e).unwrap();
    }
    drop(f);
    let report = rix.json(&["--config", jp, "import", v1.to_str().unwrap()]);
    assert_eq!(report["stored"].as_u64(), Some(3));

    // Evidence: JP holds a second record of KZ with seq 1; JP's export carries it as evidence,
    // and a third replica importing that export keeps it as evidence too.
    let key = MemberKey::load(&net.node("KZ").dir.join("keys/signing.key")).unwrap();
    let p = Publication::new(Kind::Event, "a second seq 1", "en".parse().unwrap(), vec![KeyFactor::Hrm]);
    let twin = Author::new("rix-test", "KZ".parse().unwrap(), key)
        .sign_next(None, Content::Publication(Box::new(p)), Timestamp::now())
        .unwrap();
    let twin_pack = net.root.path().join("twin.rixpack");
    rix_tests::write_pack(&twin_pack, [twin.bytes()]);
    assert_eq!(rix.json(&["--config", jp, "import", twin_pack.to_str().unwrap()])["equivocations"].as_u64(), Some(1));
    let jp_pack = net.root.path().join("jp.rixpack");
    rix.ok(&["--config", jp, "export", "--format", "signed", "--out", jp_pack.to_str().unwrap()]);
    let kinds: Vec<pack::EntryKind> =
        pack::PackReader::new(std::fs::File::open(&jp_pack).unwrap()).unwrap().map(|e| e.unwrap().0).collect();
    assert_eq!(kinds.iter().filter(|k| **k == pack::EntryKind::Evidence).count(), 1, "{kinds:?}");
    let third = TestNet::init(&rix, &["KZ"]);
    std::fs::copy(&net.charter, &third.charter).unwrap();
    let report = rix.json(&["--config", third.node("KZ").config_arg(), "import", jp_pack.to_str().unwrap()]);
    assert_eq!((report["stored"].as_u64(), report["equivocations"].as_u64()), (Some(3), Some(1)), "{report}");
    let verify = rix.json(&["--config", third.node("KZ").config_arg(), "verify"]);
    assert_eq!(verify["equivocations"].as_array().unwrap().len(), 1, "{verify}");
}
