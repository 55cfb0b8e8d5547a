//! Real `rix daemon` processes on 127.0.0.1, driven by the real `rix` CLI: gossip between
//! processes, a node killed with SIGKILL and restarted catches up, SIGTERM shuts down cleanly
//! (exit 0), and the stores hold everything afterwards.

use std::time::Duration;

use nix::sys::signal::Signal;
use rix_tests::{Daemon, NodeDir, Rix, TestNet, sample_files, signal};

const WAIT: Duration = Duration::from_secs(40);

fn rix() -> Rix {
    Rix::new(env!("CARGO_BIN_EXE_rix"))
}

fn spawn_daemon(rix: &Rix, node: &NodeDir) -> Daemon {
    rix.spawn_daemon(node)
}

fn wait_for(what: &str, condition: impl FnMut() -> bool) {
    rix_tests::wait_for(WAIT, what, condition);
}

fn status(rix: &Rix, node: &NodeDir) -> serde_json::Value {
    let out = rix.run(&["--json", "--config", node.config_arg(), "status"]);
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn publish(rix: &Rix, node: &NodeDir, file: &std::path::Path) -> serde_json::Value {
    rix.json(&["--config", node.config_arg(), "publish", file.to_str().unwrap()])
}

#[test]
fn daemon_processes_gossip_survive_sigkill_and_shut_down_cleanly() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "RU"]);
    let (kz, jp, ru) = (net.node("KZ"), net.node("JP"), net.node("RU"));
    let mut daemons: Vec<Daemon> = net.nodes.iter().map(|n| spawn_daemon(&rix, n)).collect();
    for node in &net.nodes {
        wait_for(&format!("{} runs with two peers", node.member), || {
            for (daemon, n) in daemons.iter_mut().zip(&net.nodes) {
                if let Ok(Some(exit)) = daemon.try_wait() {
                    let log = std::fs::read_to_string(n.dir.join("daemon.log")).unwrap_or_default();
                    panic!("{}'s daemon exited ({exit}); its log:\n{log}", n.member);
                }
            }
            let s = status(&rix, node);
            s["daemon_running"] == true && s["connected_peers"].as_array().is_some_and(|p| p.len() == 2)
        });
    }

    // Published through the CLI, which goes through KZ's API and gossip.
    let kz_files = sample_files("KZ");
    let first = publish(&rix, kz, &kz_files[0]);
    assert_eq!(first["seq"], 1);
    wait_for("JP and RU hold KZ's record", || rix.record_count(jp) == 1 && rix.record_count(ru) == 1);

    // RU dies hard while the others keep publishing.
    signal(&daemons[2], Signal::SIGKILL);
    daemons[2].wait().unwrap();
    for f in &kz_files[1..4] {
        publish(&rix, kz, f);
    }
    for f in &sample_files("JP")[..2] {
        publish(&rix, jp, f);
    }
    wait_for("KZ and JP hold six records", || rix.record_count(kz) == 6 && rix.record_count(jp) == 6);
    // Search through the daemon's API, with filters and a limit (numbers in the query string).
    let search = || rix.json(&["--config", kz.config_arg(), "search", "--member", "KZ", "--limit", "5", "план"]);
    wait_for("the daemon's index has KZ's records", || search()["total"].as_u64().unwrap_or(0) > 0);
    let found = search();
    let hits = found["records"].as_array().expect("records");
    assert!(!hits.is_empty() && hits.len() <= 5, "{found}");
    assert!(hits.iter().all(|h| h["author"] == "KZ"), "{found}");
    // With RU's daemon dead, the CLI falls back to RU's replica (its stale API token notwithstanding).
    assert_eq!(rix.record_count(ru), 1);

    daemons[2] = spawn_daemon(&rix, ru);
    wait_for("the restarted RU catches up all six records", || rix.record_count(ru) == 6);
    let verify = rix.json(&["--config", ru.config_arg(), "verify"]);
    assert_eq!((verify["checked"].as_u64(), verify["failures"].as_array().map(Vec::len)), (Some(6), Some(0)));
    // Catching up from one peer can finish before the other has redialled RU (its back-off
    // grew while RU was down).
    wait_for("the restarted RU is connected to both peers", || {
        rix.json(&["--config", ru.config_arg(), "peers"])["peers"].as_array().map(Vec::len) == Some(2)
    });

    // Exports of views stream from the daemon as JSON lines; whatever the format, the file is
    // the one the CLI writes from the store directly (compared after the daemons stop).
    let exports = |rix: &Rix| -> Vec<String> {
        [
            &["--format", "json"][..],
            &["--format", "jsonl"],
            &["--format", "csv"],
            &["--format", "json", "--member", "JP"],
        ]
        .iter()
        .map(|args| rix.ok(&[&["--config", kz.config_arg(), "export"][..], args].concat()))
        .collect()
    };
    let through_daemon = exports(&rix);
    assert_eq!(through_daemon[1].lines().count(), 6, "{}", through_daemon[1]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&through_daemon[3]).unwrap()["records"].as_array().map(Vec::len),
        Some(2)
    );

    // A signed export imported back through the daemon, streamed both ways: all duplicates.
    let pack = net.root.path().join("kz.rixpack");
    rix.ok(&["--config", kz.config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);
    let report = rix.json(&["--config", kz.config_arg(), "import", pack.to_str().unwrap()]);
    assert_eq!((report["read"].as_u64(), report["duplicates"].as_u64()), (Some(6), Some(6)), "{report}");
    // A pack cut short is refused before anything is sent.
    let bytes = std::fs::read(&pack).unwrap();
    std::fs::write(&pack, &bytes[..bytes.len() - 10]).unwrap();
    let out = rix.run(&["--config", kz.config_arg(), "import", pack.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("kz.rixpack"), "{stderr}");

    // SIGTERM: a clean shutdown, exit status 0, token removed.
    for d in &daemons {
        signal(d, Signal::SIGTERM);
    }
    for (d, node) in daemons.iter_mut().zip(&net.nodes) {
        let status = d.wait().unwrap();
        assert!(status.success(), "{} exited with {status}", node.member);
        assert!(!node.dir.join("data/api.token").exists(), "{} left its API token", node.member);
    }

    // Nothing lost: every store holds all six and verifies, read directly.
    for node in &net.nodes {
        assert_eq!(rix.record_count(node), 6, "{}", node.member);
        assert!(rix.run(&["--config", node.config_arg(), "verify"]).status.success());
        assert_eq!(status(&rix, node)["daemon_running"], false);
    }
    assert_eq!(exports(&rix), through_daemon, "exports through the daemon and from the store differ");
}

/// Reads a key file's hex seed (skipping comment lines).
fn key_hex(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn local_security_key_modes_api_exposure_and_no_secrets_in_logs() {
    use std::os::unix::fs::PermissionsExt;
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    let signing = kz.dir.join("keys/signing.key");
    let node_key = kz.dir.join("keys/node.key");

    // A world-readable key: the daemon refuses to start and says how to fix it.
    for key in [&signing, &node_key] {
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = rix.run(&["--config", kz.config_arg(), "daemon"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("readable by other users") && stderr.contains("chmod 600"), "{stderr}");
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // An API on a non-loopback address is refused (it is plain HTTP), naming the field and the
    // file, unless the config accepts the risk; then it is warned about. The token file is
    // owner-only; and with the most verbose logging, no secret (signing seed, node key, API
    // token) reaches the log.
    let config = std::fs::read_to_string(&kz.config).unwrap();
    let exposed = config.replace(&format!("127.0.0.1:{}", kz.api_port), &format!("0.0.0.0:{}", kz.api_port));
    std::fs::write(&kz.config, &exposed).unwrap();
    let out = rix.run(&["--config", kz.config_arg(), "daemon"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("api.listen") && stderr.contains("config.toml") && stderr.contains("allow_plaintext_remote"),
        "{stderr}"
    );
    let listen = format!("listen = \"0.0.0.0:{}\"", kz.api_port);
    assert!(exposed.contains(&listen), "{exposed}");
    std::fs::write(&kz.config, exposed.replace(&listen, &format!("{listen}\nallow_plaintext_remote = true"))).unwrap();
    let log_path = kz.dir.join("trace.log");
    let mut daemon = rix
        .command()
        .env("RUST_LOG", "trace")
        .args(["--config", kz.config_arg(), "daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let token_path = kz.dir.join("data/api.token");
    wait_for("the daemon writes its API token", || token_path.exists() && status(&rix, kz)["daemon_running"] == true);
    assert_eq!(std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777, 0o600);
    let token = std::fs::read_to_string(&token_path).unwrap().trim().to_owned();
    assert!(token.len() >= 32);
    publish(&rix, kz, &sample_files("KZ")[0]);
    signal(&daemon, Signal::SIGTERM);
    assert!(daemon.wait().unwrap().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("non-loopback"), "the exposed API is warned about");
    for secret in [key_hex(&signing), key_hex(&node_key), token] {
        assert!(!log.to_lowercase().contains(&secret.to_lowercase()), "a secret appears in the log");
    }
    assert!(log.lines().count() > 50, "the trace log is not empty");
}

/// The harness kills a daemon whose handle is dropped, so a test that fails part-way leaves no
/// daemon running.
#[test]
fn a_dropped_daemon_handle_kills_its_process() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    let daemon = spawn_daemon(&rix, kz);
    let pid = daemon.id();
    wait_for("the daemon runs", || status(&rix, kz)["daemon_running"] == true);
    drop(daemon);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "daemon {pid} still runs");
}

/// A daemon whose worker dies does not stay up degraded: it logs which worker failed and
/// exits non-zero, for its supervisor to restart it. Each worker is made to panic by the
/// `RIX_FAILPOINT` failpoint; the daemon is otherwise a normal one, with a peer.
#[test]
fn a_failed_worker_stops_the_daemon_with_a_nonzero_exit_naming_it() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let (kz, jp) = (net.node("KZ"), net.node("JP"));
    let _jp = spawn_daemon(&rix, jp);
    for worker in ["protocol engine", "search indexer", "network", "local API", "sync client"] {
        let log_path = kz.dir.join(format!("failpoint-{}.log", worker.replace(' ', "-")));
        let env = [("RUST_LOG", "warn"), ("RIX_FAILPOINT", worker)];
        let mut daemon = rix.spawn_daemon_with(kz, &env, &log_path);
        let mut exit = None;
        wait_for(&format!("KZ's daemon exits after its {worker} worker panics"), || {
            exit = daemon.try_wait().unwrap();
            exit.is_some()
        });
        let exit = exit.unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert_eq!(exit.code(), Some(1), "{worker}: exit {exit}; log:\n{log}");
        assert!(
            log.contains(&format!("the daemon's {worker} worker failed")) && log.contains("panicked"),
            "{worker}: the log names the worker and what happened:\n{log}"
        );
        assert!(log.contains("a worker of the daemon failed"), "{worker}: the error is logged:\n{log}");
    }
    // A failed daemon whose last flush hangs (a disk that stopped answering) still exits,
    // once its 20 s bound has passed: the stuck thread is abandoned, not waited for.
    let log_path = kz.dir.join("failpoint-stuck-flush.log");
    let env = [("RUST_LOG", "warn"), ("RIX_FAILPOINT", "protocol engine,stuck flush")];
    let mut daemon = rix.spawn_daemon_with(kz, &env, &log_path);
    let mut exit = None;
    wait_for("KZ's daemon exits though its flush hangs", || {
        exit = daemon.try_wait().unwrap();
        exit.is_some()
    });
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(exit.unwrap().code(), Some(1), "log:\n{log}");
    assert!(log.contains("could not stop gracefully in time"), "the bound was reached:\n{log}");
    // Without the failpoint the same node runs, and stops cleanly on SIGTERM.
    let daemon = spawn_daemon(&rix, kz);
    wait_for("KZ runs with JP", || status(&rix, kz)["connected_peers"].as_array().is_some_and(|p| p.len() == 1));
    daemon.stop_cleanly();
}

/// A node that lost its signing journal and reaches no peer says so in its log after
/// `sync.recovery_timeout_secs` (and keeps refusing to publish), instead of waiting silently.
#[test]
fn a_node_stuck_recovering_its_history_says_so_after_the_recovery_timeout() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let kz = net.node("KZ");
    std::fs::remove_file(kz.dir.join("keys/last-signed.rix")).ok();
    let config = kz.dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("recovery_timeout_secs = 5"), "the test config sets a short timeout");
    std::fs::write(&config, text.replace("recovery_timeout_secs = 5", "recovery_timeout_secs = 1")).unwrap();
    let daemon = spawn_daemon(&rix, kz);
    let log = || std::fs::read_to_string(kz.dir.join("daemon.log")).unwrap_or_default();
    wait_for("KZ warns that its history is still unknown", || log().contains("signing history still unknown"));
    let refused = rix.run(&["--config", kz.config_arg(), "publish", sample_files("KZ")[0].to_str().unwrap()]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("recovering"));
    daemon.stop_cleanly();
}

/// An import through a running daemon goes through the same ingest pipeline as gossip and
/// sync: what it stores is indexed at once (searchable without `rix reindex`) and counted
/// under `source="import"`.
#[test]
fn an_import_through_the_daemon_is_indexed_and_counted_like_gossip() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP"]);
    let (kz, jp) = (net.node("KZ"), net.node("JP"));
    let files = sample_files("JP");
    for f in &files {
        rix.ok(&["--config", jp.config_arg(), "publish", f.to_str().unwrap()]);
    }
    let pack = net.root.path().join("jp.rixpack");
    rix.ok(&["--config", jp.config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);
    let daemon = spawn_daemon(&rix, kz);
    wait_for("KZ's daemon answers", || status(&rix, kz)["daemon_running"] == true);
    let report = rix.json(&["--config", kz.config_arg(), "import", pack.to_str().unwrap()]);
    assert_eq!(report["stored"].as_u64(), Some(files.len() as u64), "{report}");
    let found = rix.json(&["--config", kz.config_arg(), "search", "--member", "JP", "税関職員倫理規程"]);
    assert!(found["total"].as_u64().unwrap_or(0) >= 1, "the imported record is searchable at once: {found}");
    let api = std::fs::read_to_string(kz.dir.join("config.toml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("listen = \"").map(|a| a.trim_end_matches('"').to_owned()))
        .filter(|a| !a.starts_with('/'))
        .expect("the API address");
    let metrics = rix_tests::http_get(&format!("http://{api}/metrics"));
    let imported: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("rix_records_received_total{source=\"import\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(imported as usize, files.len(), "{metrics}");
    daemon.stop_cleanly();
}
