//! Real `rix daemon` processes on 127.0.0.1, driven by the real `rix` CLI: gossip between
//! processes, a node killed with SIGKILL and restarted catches up, SIGTERM shuts down cleanly
//! (exit 0), and the stores hold everything afterwards.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rix_tests::{NodeDir, Rix, TestNet, sample_files};

const WAIT: Duration = Duration::from_secs(40);

fn rix() -> Rix {
    Rix::new(env!("CARGO_BIN_EXE_rix"))
}

fn spawn_daemon(rix: &Rix, node: &NodeDir) -> Child {
    let log = std::fs::File::create(node.dir.join("daemon.log")).unwrap();
    rix.command()
        .args(["--config", node.config_arg(), "daemon"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("daemon starts")
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status(rix: &Rix, node: &NodeDir) -> serde_json::Value {
    let out = rix.run(&["--json", "--config", node.config_arg(), "status"]);
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn record_count(rix: &Rix, node: &NodeDir) -> usize {
    let out = rix.run(&["--json", "--config", node.config_arg(), "list", "--all-versions", "--include-withdrawn"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v["records"].as_array().map(Vec::len))
        .unwrap_or(0)
}

fn signal(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).expect("signal delivered");
}

fn publish(rix: &Rix, node: &NodeDir, file: &std::path::Path) -> serde_json::Value {
    rix.json(&["--config", node.config_arg(), "publish", file.to_str().unwrap()])
}

#[test]
fn daemon_processes_gossip_survive_sigkill_and_shut_down_cleanly() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ", "JP", "RU"]);
    let (kz, jp, ru) = (net.node("KZ"), net.node("JP"), net.node("RU"));
    let mut daemons: Vec<Child> = net.nodes.iter().map(|n| spawn_daemon(&rix, n)).collect();
    for node in &net.nodes {
        wait_for(&format!("{} runs with two peers", node.member), || {
            let s = status(&rix, node);
            s["daemon_running"] == true && s["connected_peers"].as_array().is_some_and(|p| p.len() == 2)
        });
    }

    // Published through the CLI, which goes through KZ's API and gossip.
    let kz_files = sample_files("KZ");
    let first = publish(&rix, kz, &kz_files[0]);
    assert_eq!(first["seq"], 1);
    wait_for("JP and RU hold KZ's record", || record_count(&rix, jp) == 1 && record_count(&rix, ru) == 1);

    // RU dies hard while the others keep publishing.
    signal(&daemons[2], Signal::SIGKILL);
    daemons[2].wait().unwrap();
    for f in &kz_files[1..4] {
        publish(&rix, kz, f);
    }
    for f in &sample_files("JP")[..2] {
        publish(&rix, jp, f);
    }
    wait_for("KZ and JP hold six records", || record_count(&rix, kz) == 6 && record_count(&rix, jp) == 6);
    // With RU's daemon dead, the CLI falls back to RU's replica (its stale API token notwithstanding).
    assert_eq!(record_count(&rix, ru), 1);

    daemons[2] = spawn_daemon(&rix, ru);
    wait_for("the restarted RU catches up all six records", || record_count(&rix, ru) == 6);
    let verify = rix.json(&["--config", ru.config_arg(), "verify"]);
    assert_eq!((verify["checked"].as_u64(), verify["failures"].as_array().map(Vec::len)), (Some(6), Some(0)));
    let peers = rix.json(&["--config", ru.config_arg(), "peers"]);
    assert_eq!(peers["peers"].as_array().map(Vec::len), Some(2));

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
        assert_eq!(record_count(&rix, node), 6, "{}", node.member);
        assert!(rix.run(&["--config", node.config_arg(), "verify"]).status.success());
        assert_eq!(status(&rix, node)["daemon_running"], false);
    }
}
