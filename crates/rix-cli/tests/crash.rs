//! Crash safety: a real `rix daemon` process is killed with SIGKILL at random moments while it
//! publishes records through its API and catches up thousands of records from a peer by sync.
//! After every kill it must start again on the same store, verify, and hold every record whose
//! publication was acknowledged before the kill. `RIX_CRASH_ROUNDS` sets the number of kills
//! (default 12; `scripts/soak.sh` runs more). At the end, the peer's chain is exported through
//! its daemon's streaming API and compared with what it imported.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use rix_api::RecordFilter;
use rix_api::record::{Author, MemberKey};
use rix_api::{ApiClient, Backend};
use rix_node::NodeConfig;
use rix_tests::corpus::{Lcg, generate};
use rix_tests::{Rix, TestNet, content, signal, wait_for};

const WAIT: Duration = Duration::from_secs(60);
const PEER_RECORDS: usize = 20_000;

fn api(config: &rix_node::config::LoadedConfig) -> Option<ApiClient> {
    rix_node::client::connect(config).ok().flatten()
}

fn held_ids(backend: &ApiClient) -> HashSet<rix_api::record::RecordId> {
    let all = RecordFilter { all_versions: true, include_withdrawn: true, limit: None, ..RecordFilter::default() };
    backend.list(&all).expect("list").records.into_iter().map(|r| r.id).collect()
}

#[test]
fn sigkill_during_publish_and_sync_loses_no_acknowledged_record() {
    let rounds: usize = std::env::var("RIX_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let rix = Rix::new(env!("CARGO_BIN_EXE_rix"));
    let net = TestNet::init(&rix, &["A1", "B1"]);
    let (a, b) = (net.node("A1"), net.node("B1"));

    // B holds a long chain that A must catch up by sync while it is being killed.
    let b_key = MemberKey::load(&b.dir.join("keys/signing.key")).unwrap();
    let chain = generate(&Author::new("rix-test", "B1".parse().unwrap(), b_key), PEER_RECORDS, 40, 7);
    let pack_path = net.root.path().join("b.rixpack");
    rix_tests::write_pack(&pack_path, chain.iter().map(|r| r.bytes()));
    rix.ok(&["--config", b.config_arg(), "import", pack_path.to_str().unwrap()]);
    let mut b_daemon = rix.spawn_daemon(b);

    let a_config = NodeConfig::load(&a.config).unwrap();
    let acked = Arc::new(Mutex::new(Vec::<rix_api::record::RecordId>::new()));
    let mut rng = Lcg(0x5eed);
    let mut held_at_kill = Vec::new();
    for round in 0..=rounds {
        let mut daemon = rix.spawn_daemon(a);
        wait_for(WAIT, &format!("A's daemon answers after kill {round}"), || api(&a_config).is_some());
        let backend = api(&a_config).unwrap();
        let held = held_ids(&backend);
        let acked_now = acked.lock().unwrap().clone();
        let lost: Vec<&rix_api::record::RecordId> = acked_now.iter().filter(|id| !held.contains(*id)).collect();
        assert!(lost.is_empty(), "after kill {round}, acknowledged records are missing: {lost:?}");
        held_at_kill.push(held.len());
        if round == rounds {
            signal(&daemon, Signal::SIGTERM);
            assert!(daemon.wait().unwrap().success());
            break;
        }

        // Publish as fast as the API acknowledges, and kill at a random moment.
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (acked, stop, config) = (acked.clone(), stop.clone(), a_config.clone());
            std::thread::spawn(move || {
                let Some(backend) = api(&config) else { return };
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    match backend.publish(content(&format!("crash round {round} record {n}"))) {
                        Ok(view) => acked.lock().unwrap().push(view.id),
                        Err(_) => return,
                    }
                    n += 1;
                }
            })
        };
        std::thread::sleep(Duration::from_millis(150 + rng.next(1200) as u64));
        signal(&daemon, Signal::SIGKILL);
        daemon.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        publisher.join().unwrap();
    }

    // The store verifies offline, holds every acknowledged record, and the catch-up that was
    // interrupted again and again completes.
    let acked = acked.lock().unwrap().clone();
    let verify = rix.json(&["--config", a.config_arg(), "verify"]);
    assert_eq!(verify["failures"].as_array().map(Vec::len), Some(0), "{verify}");
    let mut daemon = rix.spawn_daemon(a);
    let total = PEER_RECORDS + acked.len();
    wait_for(WAIT, "A finishes catching up B's chain", || {
        api(&a_config).is_some_and(|backend| held_ids(&backend).len() >= total)
    });
    let held = held_ids(&api(&a_config).unwrap());
    assert!(acked.iter().all(|id| held.contains(id)));
    eprintln!(
        "{rounds} SIGKILLs survived; {} records acknowledged, none lost; A held {held_at_kill:?} records at each restart",
        acked.len()
    );

    // B's store (its chain and A's records) streams out of its daemon's API in many chunks.
    let streamed = net.root.path().join("b-streamed.rixpack");
    let report =
        rix.json(&["--config", b.config_arg(), "export", "--format", "signed", "--out", streamed.to_str().unwrap()]);
    let envelopes: HashSet<Vec<u8>> = rix_tests::read_pack(&streamed).into_iter().collect();
    assert_eq!(report["exported"].as_u64(), Some(envelopes.len() as u64), "{report}");
    assert!(envelopes.len() >= total, "{report}");
    assert!(chain.iter().all(|r| envelopes.contains(r.bytes())), "B's streamed export lacks records of its chain");
    for child in [&mut daemon, &mut b_daemon] {
        signal(child, Signal::SIGTERM);
        assert!(child.wait().unwrap().success());
    }
    // Read from the store directly, the same pack, byte for byte.
    let direct = net.root.path().join("b-direct.rixpack");
    rix.ok(&["--config", b.config_arg(), "export", "--format", "signed", "--out", direct.to_str().unwrap()]);
    assert!(std::fs::read(&streamed).unwrap() == std::fs::read(&direct).unwrap(), "streamed and direct exports differ");
}
