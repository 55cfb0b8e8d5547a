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
