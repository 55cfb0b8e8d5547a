//! `rix charter show | propose | pending | approve | log` as an operator runs them: offline on
//! a node's replica, and through a running daemon's API, with the JSON shapes `docs/cli.md`
//! promises and the errors bad input gets before anything is signed.

use std::time::Duration;

use rix_tests::{Rix, TestNet, sample_files};

fn rix() -> Rix {
    Rix::new(env!("CARGO_BIN_EXE_rix"))
}

const OBSERVER: &str = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";

fn failure(rix: &Rix, args: &[&str]) -> String {
    let out = rix.run(args);
    assert_eq!(out.status.code(), Some(1), "rix {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_proposal_waits_for_its_threshold_and_bad_ones_are_refused_before_signing() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let kz = net.node("KZ").config_arg();
    for f in sample_files("KZ").iter().take(2) {
        rix.ok(&["--config", kz, "publish", f.to_str().unwrap()]);
    }

    let show = rix.json(&["--config", kz, "charter", "show"]);
    assert_eq!((show["version"].as_u64(), show["threshold"].as_u64()), (Some(1), Some(2)));
    assert_eq!(show["hash"], show["genesis"]);
    let codes: Vec<&str> = show["members"].as_array().unwrap().iter().map(|m| m["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["JP", "KZ", "MN"]);
    assert_eq!(show["members"][1]["joined"], 1);
    // The charter file alone gives the same genesis hash as the node's chain.
    let file = rix.json(&["charter", "show", "--charter", net.charter.to_str().unwrap()]);
    assert_eq!(file["genesis"], show["genesis"]);

    let proposed =
        rix.json(&["--config", kz, "charter", "propose", "add-observer", "--peer-id", OBSERVER, "--name", "WCO RILO"]);
    let id = proposed["proposal"].as_str().unwrap().to_owned();
    assert_eq!(proposed["approvals"], serde_json::json!(["KZ"]));
    assert_eq!((proposed["needed"].as_u64(), proposed["applied"].is_null()), (Some(2), true));
    assert_eq!(proposed["changes"][0]["type"], "add_observer");
    // Approving one's own proposal again changes nothing.
    let again = rix.json(&["--config", kz, "charter", "approve", &id[..10]]);
    assert_eq!(again["approvals"], serde_json::json!(["KZ"]));
    let pending = rix.json(&["--config", kz, "charter", "pending"]);
    assert_eq!(pending["proposals"].as_array().unwrap().len(), 1);
    assert!(rix.ok(&["--config", kz, "charter", "pending"]).contains("1 more approval needed"));

    // Bad input: named, refused, nothing stored.
    let err = failure(&rix, &["--config", kz, "charter", "propose", "remove", "--member", "TJ"]);
    assert!(err.contains("TJ is not a member"), "{err}");
    let err = failure(&rix, &["--config", kz, "charter", "propose", "set-threshold", "4"]);
    assert!(err.contains("threshold 4 is outside 1..=3"), "{err}");
    let err = failure(&rix, &["--config", kz, "charter", "propose", "set-threshold", "most"]);
    assert!(err.contains("give a number or `majority`"), "{err}");
    let jp_key = show["members"][0]["public_key"].as_str().unwrap();
    let err = failure(
        &rix,
        &[
            "--config",
            kz,
            "charter",
            "propose",
            "admit",
            "--code",
            "TJ",
            "--name",
            "Customs TJ",
            "--public-key",
            jp_key,
            "--peer-id",
            OBSERVER,
        ],
    );
    assert!(err.contains("is already in use (keys are never reused)"), "{err}");
    let err = failure(
        &rix,
        &[
            "--config",
            kz,
            "charter",
            "propose",
            "rotate-key",
            "--member",
            "JP",
            "--public-key",
            "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618",
        ],
    );
    assert!(err.contains("needs the new key's proof of possession"), "{err}");
    let err = failure(&rix, &["--config", kz, "charter", "approve", "0000"]);
    assert!(err.contains("no proposal 0000"), "{err}");
    let err = failure(&rix, &["--config", kz, "charter", "show", "--version", "2"]);
    assert!(err.contains("no charter version 2"), "{err}");
    assert_eq!(rix.json(&["--config", kz, "charter", "pending"])["proposals"].as_array().unwrap().len(), 1);

    // The removal of a member fills its cut-off from the records this node holds.
    let removal = rix.json(&["--config", kz, "charter", "propose", "remove", "--member", "KZ"]);
    assert_eq!(removal["changes"][0]["after_seq"], 2);
    let log = rix.json(&["--config", kz, "charter", "log"]);
    assert_eq!(log["versions"].as_array().unwrap().len(), 1);
    assert_eq!(log["versions"][0]["hash"], show["genesis"]);
}

#[test]
fn a_single_members_proposal_applies_at_once_and_a_daemon_answers_the_same_commands() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    let config = kz.config_arg();
    let proposed =
        rix.json(&["--config", config, "charter", "add-observer", "--peer-id", OBSERVER, "--name", "WCO RILO"]);
    assert_eq!(proposed["applied"], 2);
    let show = rix.json(&["--config", config, "charter", "show"]);
    assert_eq!((show["version"].as_u64(), show["observers"][0]["name"].as_str()), (Some(2), Some("WCO RILO")));
    assert_eq!(show["hash"], proposed["proposal"]);

    let daemon = rix.spawn_daemon(kz);
    rix_tests::wait_for(Duration::from_secs(40), "the daemon answers", || {
        rix.run(&["--json", "--config", config, "status"]).stdout.windows(22).any(|w| w == b"\"daemon_running\": true")
    });
    // Through the API: the same views, and the daemon started on version 2.
    assert_eq!(rix.json(&["--config", config, "charter", "show"]), show);
    let threshold = rix.json(&["--config", config, "charter", "propose", "set-threshold", "1"]);
    assert_eq!(threshold["applied"], 3);
    let err = failure(
        &rix,
        &[
            "--config",
            config,
            "charter",
            "propose",
            "remove-observer",
            "--peer-id",
            "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK",
        ],
    );
    assert!(err.contains("is not an observer"), "{err}");
    let log = rix.json(&["--config", config, "charter", "log"]);
    let versions = log["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[2]["approved_by"], serde_json::json!(["KZ"]));
    assert!(versions[2]["effective_at"].is_string());
    assert_eq!(
        rix.json(&["--config", config, "charter", "show", "--version", "1"])["observers"],
        serde_json::json!([])
    );
    daemon.stop_cleanly();
    // Offline again: the replica holds the same chain.
    assert_eq!(rix.json(&["--config", config, "charter", "log"]), log);
}

fn charter_version(rix: &Rix, config: &str) -> u64 {
    let out = rix.run(&["--json", "--config", config, "charter", "show"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout).ok().and_then(|v| v["version"].as_u64()).unwrap_or(0)
}

fn running(rix: &Rix, config: &str) -> bool {
    rix.run(&["--json", "--config", config, "status"]).stdout.windows(22).any(|w| w == b"\"daemon_running\": true")
}

#[test]
fn a_proposal_travels_applies_on_every_member_without_a_restart_and_an_offline_member_learns_it_by_sync() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let (kz, jp, mn) = (net.node("KZ"), net.node("JP"), net.node("MN"));
    let wait = Duration::from_secs(60);
    let kz_daemon = rix.spawn_daemon(kz);
    let jp_daemon = rix.spawn_daemon(jp);
    for node in [kz, jp] {
        rix_tests::wait_for(wait, &format!("{} runs", node.member), || running(&rix, node.config_arg()));
    }
    rix_tests::wait_for(wait, "KZ and JP connect", || {
        rix.json(&["--config", kz.config_arg(), "status"])["connected_peers"].as_array().is_some_and(|p| !p.is_empty())
    });
    let proposed = rix.json(&[
        "--config",
        kz.config_arg(),
        "charter",
        "propose",
        "add-observer",
        "--peer-id",
        OBSERVER,
        "--name",
        "WCO RILO",
    ]);
    let id = proposed["proposal"].as_str().unwrap().to_owned();
    rix_tests::wait_for(wait, "JP holds KZ's proposal", || {
        let pending = rix.json(&["--config", jp.config_arg(), "charter", "pending"]);
        pending["proposals"].as_array().is_some_and(|p| p.iter().any(|p| p["proposal"] == id.as_str()))
    });
    let approved = rix.json(&["--config", jp.config_arg(), "charter", "approve", &id[..12]]);
    assert_eq!(
        (approved["applied"].as_u64(), approved["approvals"].clone()),
        (Some(2), serde_json::json!(["JP", "KZ"]))
    );
    // KZ's daemon applies the version JP's approval made, without a restart.
    rix_tests::wait_for(wait, "KZ applies version 2", || charter_version(&rix, kz.config_arg()) == 2);
    let kz_show = rix.json(&["--config", kz.config_arg(), "charter", "show"]);
    assert_eq!(kz_show["observers"][0]["peer_id"], OBSERVER);

    // MN was offline: it learns the amendment and the approvals from a peer by sync.
    assert_eq!(charter_version(&rix, mn.config_arg()), 1);
    let mn_daemon = rix.spawn_daemon(mn);
    rix_tests::wait_for(wait, "MN learns version 2 by sync", || charter_version(&rix, mn.config_arg()) == 2);
    let log = |n: &rix_tests::NodeDir| rix.json(&["--config", n.config_arg(), "charter", "log"]);
    assert_eq!(log(mn), log(kz));
    assert_eq!(log(jp), log(kz));
    let metrics = metrics(mn.api_port);
    assert!(metrics.contains("rix_charter_version 2"), "{metrics}");
    assert!(
        metrics.contains(r#"rix_charter_items_total{source="sync",outcome="new"} 3"#),
        "the amendment and two approvals: {metrics}"
    );
    for d in [kz_daemon, jp_daemon, mn_daemon] {
        d.stop_cleanly();
    }
}

/// The daemon's OpenMetrics text.
fn metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn count_of(rix: &Rix, config: &str, member: &str) -> usize {
    let out =
        rix.run(&["--json", "--config", config, "list", "--member", member, "--all-versions", "--include-withdrawn"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v["records"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// A thief's records as KZ, seq `from..from + n`, continuing after `head`: signed with KZ's own
/// key, copied from its node directory. Written as a signed pack.
fn forge_as_kz(kz: &rix_tests::NodeDir, head: rix_api::record::ChainHead, n: u64, path: &std::path::Path) {
    use rix_api::record::pack::{EntryKind, PackWriter};
    use rix_api::record::{Author, MemberKey, Timestamp};
    let key = MemberKey::load(&kz.dir.join("keys/signing.key")).expect("KZ's key file");
    let thief = Author::new("rix-test", "KZ".parse().unwrap(), key);
    let mut head = Some(head);
    let mut pack = PackWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    for i in 0..n {
        let record = thief.sign_next(head, rix_tests::content(&format!("forged {i}")), Timestamp::now()).unwrap();
        head = Some(record.as_head());
        pack.write(EntryKind::Record, record.bytes()).unwrap();
    }
    pack.finish().unwrap();
}

#[test]
fn a_stolen_key_is_revoked_with_a_cut_off_and_what_it_forged_leaves_every_node() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let (kz, jp, mn) = (net.node("KZ"), net.node("JP"), net.node("MN"));
    let wait = Duration::from_secs(60);
    let daemons: Vec<_> = net.nodes.iter().map(|n| rix.spawn_daemon(n)).collect();
    for node in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} runs", node.member), || running(&rix, node.config_arg()));
    }
    let mut published = vec![];
    for f in sample_files("KZ").iter().take(3) {
        published.push(rix.json(&["--config", kz.config_arg(), "publish", f.to_str().unwrap()]));
    }
    for n in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} holds KZ's 3 records", n.member), || {
            count_of(&rix, n.config_arg(), "KZ") == 3
        });
    }
    // The thief signs two more as KZ; they reach JP (an import) and spread by sync.
    let head = rix_api::record::ChainHead { seq: 3, id: published[2]["id"].as_str().unwrap().parse().unwrap() };
    let forged = net.root.path().join("forged.pack");
    forge_as_kz(kz, head, 2, &forged);
    rix.ok(&["--config", jp.config_arg(), "import", forged.to_str().unwrap()]);
    for n in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} holds the forgeries", n.member), || {
            count_of(&rix, n.config_arg(), "KZ") == 5
        });
    }

    rix_tests::wait_for(wait, "JP's search finds the forgeries", || {
        rix.json(&["--config", jp.config_arg(), "search", "forged"])["total"] == 2
    });

    // JP proposes the revocation with the cut-off after KZ's record 3; MN approves.
    let err = failure(
        &rix,
        &["--config", jp.config_arg(), "charter", "propose", "revoke-key", "--member", "KZ", "--after-seq", "9"],
    );
    assert!(err.contains("holds no record 9 of KZ (its newest is 5)"), "{err}");
    let proposed = rix.json(&[
        "--config",
        jp.config_arg(),
        "charter",
        "propose",
        "revoke-key",
        "--member",
        "KZ",
        "--after-seq",
        "3",
    ]);
    let id = proposed["proposal"].as_str().unwrap().to_owned();
    assert_eq!(proposed["changes"][0]["last_id"], published[2]["id"]);
    rix_tests::wait_for(wait, "MN holds the proposal", || {
        rix.json(&["--config", mn.config_arg(), "charter", "pending"])["proposals"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["proposal"] == id.as_str()))
    });
    assert_eq!(rix.json(&["--config", mn.config_arg(), "charter", "approve", &id])["applied"], 2);

    // Every node takes the forgeries out (they received them before the amendment), keeps
    // them as evidence with the reason, and keeps KZ's three real records.
    for n in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} applies the revocation", n.member), || {
            charter_version(&rix, n.config_arg()) == 2 && count_of(&rix, n.config_arg(), "KZ") == 3
        });
        let status = rix.json(&["--config", n.config_arg(), "status"]);
        let retired = status["retired_records"].as_array().unwrap();
        assert_eq!(retired.len(), 2, "{}: {status}", n.member);
        assert!(retired.iter().all(|r| r["reason"].as_str().unwrap().starts_with("key_retired:")), "{status}");
        let verify = rix.json(&["--config", n.config_arg(), "verify"]);
        assert_eq!(
            (verify["valid"].as_u64(), verify["failures"].clone()),
            (Some(3), serde_json::json!([])),
            "{verify}"
        );
        let search = rix.json(&["--config", n.config_arg(), "search", "forged"]);
        assert_eq!(
            (search["total"].as_u64(), search["records"].as_array().map(Vec::len)),
            (Some(0), Some(0)),
            "{search}"
        );
    }
    let show = rix.json(&["--config", jp.config_arg(), "charter", "show"]);
    let kz_view = show["members"].as_array().unwrap().iter().find(|m| m["code"] == "KZ").unwrap().clone();
    assert_eq!(kz_view["key_revoked"], true);
    assert_eq!(show["retired_keys"][0]["after_seq"], 3);

    // The key signs nothing more anywhere: a later forgery is refused at import, and KZ's own
    // node can no longer publish or approve with it.
    let later = net.root.path().join("later.pack");
    let head = rix_api::record::ChainHead { seq: 3, id: published[2]["id"].as_str().unwrap().parse().unwrap() };
    forge_as_kz(kz, head, 1, &later);
    let out = rix.run(&["--json", "--config", mn.config_arg(), "import", later.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "an import with a refused record exits 1");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rejected"][0]["reason"], "key_retired", "{report}");
    let err = failure(&rix, &["--config", kz.config_arg(), "publish", sample_files("KZ")[3].to_str().unwrap()]);
    assert!(err.contains("revoked"), "{err}");

    // KZ gets a new key: its node makes it and its proof, JP proposes it, MN approves; KZ's
    // node then signs with it, after its last valid record.
    let made = rix.json(&["--config", kz.config_arg(), "key", "rotate"]);
    assert!(made["proposal"].is_null(), "a revoked member cannot propose: {made}");
    let (public_key, proof) = (made["public_key"].as_str().unwrap(), made["proof"].as_str().unwrap());
    let rotation = rix.json(&[
        "--config",
        jp.config_arg(),
        "charter",
        "propose",
        "rotate-key",
        "--member",
        "KZ",
        "--public-key",
        public_key,
        "--proof",
        proof,
    ]);
    let id = rotation["proposal"].as_str().unwrap().to_owned();
    rix_tests::wait_for(wait, "MN holds the rotation", || {
        rix.json(&["--config", mn.config_arg(), "charter", "pending"])["proposals"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["proposal"] == id.as_str()))
    });
    assert_eq!(rix.json(&["--config", mn.config_arg(), "charter", "approve", &id])["applied"], 3);
    rix_tests::wait_for(wait, "KZ applies its new key", || charter_version(&rix, kz.config_arg()) == 3);
    let fourth = rix.json(&["--config", kz.config_arg(), "publish", sample_files("KZ")[3].to_str().unwrap()]);
    assert_eq!(fourth["seq"], 4, "after its last valid record, 3");
    for n in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} takes KZ's record under its new key", n.member), || {
            count_of(&rix, n.config_arg(), "KZ") == 4
        });
    }
    for d in daemons {
        d.stop_cleanly();
    }
}

fn connected_to(rix: &Rix, config: &str, peer_id: &str) -> bool {
    let status = rix.json(&["--config", config, "status"]);
    status["connected_peers"].as_array().is_some_and(|p| p.iter().any(|p| p["peer_id"] == peer_id))
}

#[test]
fn a_removed_member_is_disconnected_and_refused_and_its_history_stays_valid() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let (kz, jp, mn) = (net.node("KZ"), net.node("JP"), net.node("MN"));
    let wait = Duration::from_secs(60);
    let daemons: Vec<_> = net.nodes.iter().map(|n| rix.spawn_daemon(n)).collect();
    for node in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} runs", node.member), || running(&rix, node.config_arg()));
    }
    rix.ok(&["--config", mn.config_arg(), "publish", sample_files("MN")[0].to_str().unwrap()]);
    for n in [kz, jp] {
        rix_tests::wait_for(wait, &format!("{} holds MN's record and is connected to it", n.member), || {
            count_of(&rix, n.config_arg(), "MN") == 1 && connected_to(&rix, n.config_arg(), &mn.peer_id)
        });
    }
    let proposed = rix.json(&["--config", kz.config_arg(), "charter", "propose", "remove", "--member", "MN"]);
    let id = proposed["proposal"].as_str().unwrap().to_owned();
    assert_eq!(proposed["changes"][0]["after_seq"], 1);
    rix_tests::wait_for(wait, "JP holds the proposal", || {
        rix.json(&["--config", jp.config_arg(), "charter", "pending"])["proposals"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["proposal"] == id.as_str()))
    });
    assert_eq!(rix.json(&["--config", jp.config_arg(), "charter", "approve", &id])["applied"], 2);
    for n in [kz, jp] {
        rix_tests::wait_for(wait, &format!("{} disconnects MN", n.member), || {
            charter_version(&rix, n.config_arg()) == 2 && !connected_to(&rix, n.config_arg(), &mn.peer_id)
        });
    }
    // It stays out (its node still lists KZ and JP and redials them). Its record stays valid.
    std::thread::sleep(Duration::from_secs(3));
    for n in [kz, jp] {
        assert!(!connected_to(&rix, n.config_arg(), &mn.peer_id), "{} let MN back in", n.member);
        assert_eq!(count_of(&rix, n.config_arg(), "MN"), 1);
        assert!(rix.json(&["--config", n.config_arg(), "status"])["retired_records"].as_array().unwrap().is_empty());
    }
    for d in daemons {
        d.stop_cleanly();
    }
}

#[test]
fn three_rotations_of_one_key_keep_its_history_valid_everywhere_and_an_old_key_signs_nothing_new() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let (kz, jp) = (net.node("KZ"), net.node("JP"));
    let wait = Duration::from_secs(60);
    let daemons: Vec<_> = net.nodes.iter().map(|n| rix.spawn_daemon(n)).collect();
    for node in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} runs", node.member), || running(&rix, node.config_arg()));
    }
    let samples = sample_files("KZ");
    let mut published = vec![];
    let mut keys = vec![];
    for rotation in 1..=3u64 {
        published.push(rix.json(&[
            "--config",
            kz.config_arg(),
            "publish",
            samples[rotation as usize - 1].to_str().unwrap(),
        ]));
        let before = rix.json(&["--config", kz.config_arg(), "charter", "show"]);
        keys.push(
            before["members"].as_array().unwrap().iter().find(|m| m["code"] == "KZ").unwrap()["public_key"].clone(),
        );
        let proposed = rix.json(&["--config", kz.config_arg(), "key", "rotate"]);
        let id = proposed["proposal"].as_str().unwrap().to_owned();
        assert_eq!(proposed["changes"][0]["type"], "rotate_key");
        rix_tests::wait_for(wait, "JP holds the rotation", || {
            rix.json(&["--config", jp.config_arg(), "charter", "pending"])["proposals"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["proposal"] == id.as_str()))
        });
        rix.json(&["--config", jp.config_arg(), "charter", "approve", &id]);
        rix_tests::wait_for(wait, &format!("KZ applies rotation {rotation}"), || {
            charter_version(&rix, kz.config_arg()) == rotation + 1
        });
    }
    // The fourth record is signed with the third new key.
    published.push(rix.json(&["--config", kz.config_arg(), "publish", samples[3].to_str().unwrap()]));
    let show = rix.json(&["--config", kz.config_arg(), "charter", "show"]);
    let retired = show["retired_keys"].as_array().unwrap();
    assert_eq!(retired.len(), 3);
    assert!(retired.iter().all(|r| r["reason"] == "rotated"));
    assert_eq!(retired.iter().map(|r| r["public_key"].clone()).collect::<Vec<_>>(), keys);
    for n in &net.nodes {
        rix_tests::wait_for(wait, &format!("{} holds KZ's four records", n.member), || {
            count_of(&rix, n.config_arg(), "KZ") == 4 && charter_version(&rix, n.config_arg()) == 4
        });
        let verify = rix.json(&["--config", n.config_arg(), "verify"]);
        assert_eq!(
            (verify["valid"].as_u64(), verify["failures"].clone()),
            (Some(4), serde_json::json!([])),
            "{verify}"
        );
    }

    // Each record is signed by the key in force when it was made: the node switched keys.
    let pack = net.root.path().join("mn.pack");
    rix.ok(&["--config", net.node("MN").config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);
    let mut signers: Vec<(u64, String)> = rix_tests::read_pack(&pack)
        .into_iter()
        // Records; the pack's charter items (RIXM, RIXV) come first.
        .filter(|bytes| bytes.starts_with(b"RIX\x01"))
        .map(|bytes| {
            let (record, _) = rix_api::record::SignedRecord::from_bytes(bytes).decode().unwrap();
            (record.seq, record.author_key.to_string())
        })
        .collect();
    signers.sort();
    let mut all_keys = keys.iter().map(|k| k.as_str().unwrap().to_owned()).collect::<Vec<_>>();
    all_keys.push(
        show["members"].as_array().unwrap().iter().find(|m| m["code"] == "KZ").unwrap()["public_key"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(signers, (1..=4).zip(all_keys).collect::<Vec<_>>());

    // The first key, rotated out before record 2, signs nothing after it: a record 5 made with
    // a copy of it is refused everywhere.
    let old_key = kz.dir.join("keys").read_dir().unwrap().map(|e| e.unwrap().path()).find(|p| {
        p.file_name().unwrap().to_string_lossy().ends_with(&format!("retired-{}", &keys[0].as_str().unwrap()[..16]))
    });
    let old_key = old_key.expect("the first key is kept beside the new one");
    let forged = net.root.path().join("old-key.pack");
    {
        use rix_api::record::pack::{EntryKind, PackWriter};
        use rix_api::record::{Author, ChainHead, MemberKey, Timestamp};
        let thief = Author::new("rix-test", "KZ".parse().unwrap(), MemberKey::load(&old_key).unwrap());
        let head = ChainHead { seq: 4, id: published[3]["id"].as_str().unwrap().parse().unwrap() };
        let record = thief.sign_next(Some(head), rix_tests::content("old key"), Timestamp::now()).unwrap();
        let mut pack = PackWriter::new(std::fs::File::create(&forged).unwrap()).unwrap();
        pack.write(EntryKind::Record, record.bytes()).unwrap();
        pack.finish().unwrap();
    }
    let out = rix.run(&["--json", "--config", jp.config_arg(), "import", forged.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rejected"][0]["reason"], "key_retired", "{report}");
    for d in daemons {
        d.stop_cleanly();
    }
}

#[test]
fn a_tenth_member_joins_from_the_genesis_alone_while_a_member_is_offline_and_everyone_takes_its_records() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let (kz, jp, mn) = (net.node("KZ"), net.node("JP"), net.node("MN"));
    let wait = Duration::from_secs(60);
    let genesis = rix.json(&["charter", "show", "--charter", net.charter.to_str().unwrap()])["genesis"]
        .as_str()
        .unwrap()
        .to_owned();

    // TJ's node is made from the genesis file and its hash alone; a wrong hash is refused.
    let tj_dir = net.root.path().join("tj");
    let (p2p_port, api_port) = (rix_tests::free_port(), rix_tests::free_port());
    let listen = format!("/ip4/127.0.0.1/tcp/{p2p_port}");
    let api = format!("127.0.0.1:{api_port}");
    let charter = net.charter.to_str().unwrap();
    let tj_args = |hash: &str| {
        let dir = tj_dir.to_str().unwrap().to_owned();
        let args: Vec<String> = ["init", "--dir", &dir, "--member", "TJ", "--name", "Customs Service of Tajikistan"]
            .into_iter()
            .map(String::from)
            .chain(["--join", charter, "--genesis", hash, "--listen", &listen, "--api", &api].map(String::from))
            .collect();
        args
    };
    let wrong = tj_args(&"0".repeat(64));
    let err = failure(&rix, &wrong.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("is not the charter of the network you were given"), "{err}");
    let mut args = vec!["--json".to_owned()];
    args.extend(tj_args(&genesis));
    let init = rix.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let init: serde_json::Value = serde_json::from_str(&init).unwrap();
    assert_eq!((init["genesis"].as_str(), init["joining"].as_bool()), (Some(genesis.as_str()), Some(true)));
    let config = tj_dir.join("config.toml");
    rix_tests::tune_for_tests(&config);
    let tj = rix_tests::NodeDir {
        member: "TJ".into(),
        dir: tj_dir.clone(),
        config,
        p2p_port,
        api_port,
        peer_id: init["peer_id"].as_str().unwrap().to_owned(),
    };

    // MN is offline. KZ, JP and the newcomer run; TJ cannot publish before its admission.
    let mut daemons: Vec<_> = [kz, jp, &tj].into_iter().map(|n| rix.spawn_daemon(n)).collect();
    for node in [kz, jp, &tj] {
        rix_tests::wait_for(wait, &format!("{} runs", node.member), || running(&rix, node.config_arg()));
    }
    let err = failure(&rix, &["--config", tj.config_arg(), "publish", sample_files("TJ")[0].to_str().unwrap()]);
    assert!(err.contains("not in the charter"), "{err}");
    let proposed = rix.json(&[
        "--config",
        kz.config_arg(),
        "charter",
        "propose",
        "admit",
        "--code",
        "TJ",
        "--name",
        "Customs Service of Tajikistan",
        "--public-key",
        init["public_key"].as_str().unwrap(),
        "--peer-id",
        &tj.peer_id,
        "--address",
        init["addresses"][0].as_str().unwrap(),
    ]);
    let id = proposed["proposal"].as_str().unwrap().to_owned();
    rix_tests::wait_for(wait, "JP holds the admission", || {
        rix.json(&["--config", jp.config_arg(), "charter", "pending"])["proposals"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["proposal"] == id.as_str()))
    });
    assert_eq!(rix.json(&["--config", jp.config_arg(), "charter", "approve", &id])["applied"], 2);
    // The members dial TJ; it learns the amendment from them and may publish.
    rix_tests::wait_for(wait, "TJ learns it is admitted", || charter_version(&rix, tj.config_arg()) == 2);
    rix_tests::wait_for(wait, "TJ publishes", || {
        rix.run(&["--config", tj.config_arg(), "publish", sample_files("TJ")[0].to_str().unwrap()]).status.success()
    });
    for n in [kz, jp] {
        rix_tests::wait_for(wait, &format!("{} takes TJ's record", n.member), || {
            count_of(&rix, n.config_arg(), "TJ") == 1
        });
    }

    // MN comes back: it learns the amendment by sync before it judges TJ's record.
    daemons.push(rix.spawn_daemon(mn));
    rix_tests::wait_for(wait, "MN takes TJ's record", || {
        charter_version(&rix, mn.config_arg()) == 2 && count_of(&rix, mn.config_arg(), "TJ") == 1
    });
    let show = rix.json(&["--config", mn.config_arg(), "charter", "show"]);
    let tj_view = show["members"].as_array().unwrap().iter().find(|m| m["code"] == "TJ").unwrap().clone();
    assert_eq!((tj_view["joined"].as_u64(), tj_view["peer_id"].as_str()), (Some(2), Some(tj.peer_id.as_str())));
    let rejected = metrics(mn.api_port);
    assert!(!rejected.contains("unknown_author"), "MN never judged TJ's record before the amendment: {rejected}");
    for d in daemons {
        d.stop_cleanly();
    }
}

#[test]
fn proposals_and_approvals_travel_in_signed_packs_between_air_gapped_nodes() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "MN"]);
    let (kz, jp, mn) = (net.node("KZ"), net.node("JP"), net.node("MN"));
    let pack = |from: &rix_tests::NodeDir, name: &str| {
        let path = net.root.path().join(name);
        rix.ok(&["--config", from.config_arg(), "export", "--format", "signed", "--out", path.to_str().unwrap()]);
        path
    };
    let import = |into: &rix_tests::NodeDir, path: &std::path::Path| {
        rix.json(&["--config", into.config_arg(), "import", path.to_str().unwrap()])
    };
    let proposed = rix.json(&[
        "--config",
        kz.config_arg(),
        "charter",
        "propose",
        "add-observer",
        "--peer-id",
        OBSERVER,
        "--name",
        "WCO RILO",
    ]);
    let id = proposed["proposal"].as_str().unwrap().to_owned();
    // The proposal and KZ's approval reach JP on a pack; JP approves; its pack takes the
    // approval to the others.
    let report = import(jp, &pack(kz, "kz.pack"));
    assert_eq!(report["charter_items"], 2, "{report}");
    assert_eq!(rix.json(&["--config", jp.config_arg(), "charter", "approve", &id])["applied"], 2);
    let from_jp = pack(jp, "jp.pack");
    for n in [kz, mn] {
        import(n, &from_jp);
        assert_eq!(charter_version(&rix, n.config_arg()), 2, "{}", n.member);
    }
    assert_eq!(import(kz, &from_jp)["charter_items"], 0, "a second import stores nothing new");
    // A pack with a forged charter item: refused and reported, the rest imported.
    let forged = net.root.path().join("forged.pack");
    {
        use rix_api::record::pack::{EntryKind, PackWriter};
        let mut w = PackWriter::new(std::fs::File::create(&forged).unwrap()).unwrap();
        w.write(EntryKind::Charter, b"RIXV\x01not an approval").unwrap();
        w.finish().unwrap();
    }
    let out = rix.run(&["--json", "--config", mn.config_arg(), "import", forged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rejected"][0]["reason"], "charter_item", "{report}");
}

/// The upgrade of an existing network: its replicas hold records and no charter items (the
/// replica's layout did not change), and its `charter.toml` becomes its genesis.
#[test]
fn an_existing_networks_charter_file_becomes_its_genesis_and_every_record_stays() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let (kz, jp) = (net.node("KZ"), net.node("JP"));
    for f in sample_files("KZ").iter().take(3) {
        rix.ok(&["--config", kz.config_arg(), "publish", f.to_str().unwrap()]);
    }
    let file = rix.json(&["charter", "show", "--charter", net.charter.to_str().unwrap()]);
    let show = rix.json(&["--config", kz.config_arg(), "charter", "show"]);
    assert_eq!(
        (show["version"].as_u64(), &show["hash"], &show["genesis"]),
        (Some(1), &file["genesis"], &file["genesis"])
    );
    assert_eq!(rix.json(&["--config", kz.config_arg(), "charter", "log"])["versions"].as_array().unwrap().len(), 1);
    let verify = rix.json(&["--config", kz.config_arg(), "verify"]);
    assert_eq!((verify["valid"].as_u64(), verify["failures"].clone()), (Some(3), serde_json::json!([])));
    // Both nodes start from that genesis: same topic, same summaries; the history syncs.
    let daemons: Vec<_> = [kz, jp].into_iter().map(|n| rix.spawn_daemon(n)).collect();
    rix_tests::wait_for(Duration::from_secs(60), "JP syncs KZ's records", || {
        count_of(&rix, jp.config_arg(), "KZ") == 3
    });
    for d in daemons {
        d.stop_cleanly();
    }
}
