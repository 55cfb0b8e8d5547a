//! A network partition, for real: five `rix daemon` processes, each in its own network
//! namespace, joined by veth pairs to a bridge in a hub namespace. Moving two nodes' links to a
//! second bridge splits the network 3/2; both sides publish; moving them back heals it, and
//! every node must converge on every record.
//!
//! Needs root and `ip` (iproute2) with network namespaces; anywhere else it says why and skips.

use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use rix_tests::{Daemon, NodeDir, Rix, TestNet, sample_files, signal, wait_for};

const WAIT: Duration = Duration::from_secs(90);
const NODES: usize = 5;

/// The namespaces and links of one test; removed on drop, whatever happened.
struct Topology {
    prefix: String,
}

impl Topology {
    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    fn ip(args: &[&str]) -> Result<(), String> {
        let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// Builds the hub with bridges `br0` and `br1` and one namespace per node at 10.99.0.(i+1),
    /// all on `br0`.
    fn build() -> Result<Self, String> {
        let topology = Self { prefix: format!("rixp{}", std::process::id()) };
        let hub = topology.hub();
        Self::ip(&["netns", "add", &hub])?;
        for br in ["br0", "br1"] {
            Self::ip(&["-n", &hub, "link", "add", br, "type", "bridge"])?;
            Self::ip(&["-n", &hub, "link", "set", br, "up"])?;
        }
        for i in 0..NODES {
            let ns = topology.ns(i);
            let hub_side = format!("vh{i}");
            Self::ip(&["netns", "add", &ns])?;
            Self::ip(&["-n", &hub, "link", "add", &hub_side, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            Self::ip(&["-n", &hub, "link", "set", &hub_side, "master", "br0", "up"])?;
            Self::ip(&["-n", &ns, "addr", "add", &format!("10.99.0.{}/24", i + 1), "dev", "eth0"])?;
            Self::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            Self::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(topology)
    }

    /// Moves node `i`'s link to bridge `br`.
    fn attach(&self, i: usize, br: &str) {
        Self::ip(&["-n", &self.hub(), "link", "set", &format!("vh{i}"), "master", br]).expect("moving a link");
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for i in 0..NODES {
            let _ = Self::ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = Self::ip(&["netns", "del", &self.hub()]);
    }
}

fn peers(rix: &Rix, node: &NodeDir) -> usize {
    let out = rix.run(&["--json", "--config", node.config_arg(), "peers"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v["peers"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn five_nodes_split_three_two_publish_on_both_sides_and_converge_after_healing() {
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc")) == 0;
    if !root {
        eprintln!("SKIPPED: the partition test needs root to create network namespaces");
        return;
    }
    let topology = match Topology::build() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIPPED: network namespaces are not available here ({e})");
            return;
        }
    };
    let rix = Rix::new(env!("CARGO_BIN_EXE_rix"));
    let members = ["P1", "P2", "P3", "P4", "P5"];
    let net = TestNet::init_on(&rix, &members, |i| format!("10.99.0.{}", i + 1));
    let in_ns: Vec<Rix> = (0..NODES).map(|i| rix.in_netns(&topology.ns(i))).collect();
    let mut daemons: Vec<Daemon> = (0..NODES).map(|i| in_ns[i].spawn_daemon(&net.nodes[i])).collect();
    for i in 0..NODES {
        wait_for(WAIT, &format!("{} connects to all four others", members[i]), || peers(&in_ns[i], &net.nodes[i]) == 4);
    }

    // Split: P4 and P5 move to the other bridge. Each side publishes.
    topology.attach(3, "br1");
    topology.attach(4, "br1");
    let publish = |i: usize, files: &[std::path::PathBuf]| {
        for f in files {
            in_ns[i].ok(&["--config", net.nodes[i].config_arg(), "publish", f.to_str().unwrap()]);
        }
    };
    let (kz, jp) = (sample_files("KZ"), sample_files("JP"));
    publish(0, &kz[..3]);
    publish(4, &jp[..2]);
    wait_for(WAIT, "each side spreads its own records", || {
        (0..3).all(|i| in_ns[i].record_count(&net.nodes[i]) == 3)
            && (3..5).all(|i| in_ns[i].record_count(&net.nodes[i]) == 2)
    });
    std::thread::sleep(Duration::from_secs(3));
    let split: Vec<usize> = (0..NODES).map(|i| in_ns[i].record_count(&net.nodes[i])).collect();
    assert_eq!(split, [3, 3, 3, 2, 2], "nothing crosses the partition");

    // Heal: everyone converges on all five records.
    topology.attach(3, "br0");
    topology.attach(4, "br0");
    wait_for(WAIT, "all five nodes converge after the partition heals", || {
        (0..NODES).all(|i| in_ns[i].record_count(&net.nodes[i]) == 5)
    });
    for i in 0..NODES {
        let verify = in_ns[i].json(&["--config", net.nodes[i].config_arg(), "verify"]);
        assert_eq!(verify["failures"].as_array().map(Vec::len), Some(0), "{}: {verify}", members[i]);
    }
    for d in &mut daemons {
        signal(d, Signal::SIGTERM);
        assert!(d.wait().unwrap().success());
    }
    drop(topology);
}
