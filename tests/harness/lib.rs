//! The shared harness for rix's end-to-end tests: networks of node directories made with the
//! real `rix init`, the real `rix` binary run as a child process, free loopback ports, and the
//! sample records.
//!
//! Binary-level tests live in `crates/rix-cli/tests` (where cargo provides the path of the
//! `rix` binary) and pass that path in; multi-node tests in this crate's `tests/` use the same
//! node directories.

pub mod browser;
pub mod corpus;
pub mod hostile;
pub mod js;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rix_node::daemon::{Node, RunningNode};
use rix_node::init::{InitOptions, init_node};
use rix_record::content::{Content, Publication};
use rix_record::{KeyFactor, Kind};
use rix_store::query::RecordView;

/// The repository's sample records, `samples/records/<MEMBER>/*.md`.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/records")
}

/// The sample record files of one member, in publishing order.
pub fn sample_files(member: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples_dir().join(member))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "md")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The nine Almaty signatories.
pub const SIGNATORIES: [&str; 9] = ["AZ", "CN", "JP", "KZ", "KG", "MN", "RU", "TJ", "UZ"];

/// A free TCP port on 127.0.0.1 for a node to listen on later. Chosen below Linux's ephemeral
/// range (32768 and up), where the kernel picks the local ports of outgoing connections: a port
/// taken from that range and released could be reused by any dial before the node binds it.
/// Never the same port twice in one test process.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static HANDED_OUT: Mutex<Option<std::collections::HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let handed_out = handed_out.get_or_insert_with(Default::default);
    // Start from a per-process offset so concurrent test processes rarely try the same ports.
    let mut candidate = 20_000 + (std::process::id() as u16 % 1_000) * 12;
    loop {
        candidate = if candidate >= 32_000 { 20_000 } else { candidate + 1 };
        if !handed_out.contains(&candidate) && std::net::TcpListener::bind(("127.0.0.1", candidate)).is_ok() {
            handed_out.insert(candidate);
            return candidate;
        }
    }
}

/// A `rix daemon` process that is killed when dropped, so a test that fails part-way does not
/// leave daemons running. Derefs to its [`std::process::Child`].
#[derive(Debug)]
pub struct Daemon(pub std::process::Child);

impl std::ops::Deref for Daemon {
    type Target = std::process::Child;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs the `rix` binary.
#[derive(Debug, Clone)]
pub struct Rix {
    bin: PathBuf,
    netns: Option<String>,
}

impl Rix {
    /// The binary at `bin` (pass `env!("CARGO_BIN_EXE_rix")`).
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self { bin: bin.into(), netns: None }
    }

    /// The binary's path.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The same binary run inside network namespace `netns` (with `ip netns exec`, as root).
    pub fn in_netns(&self, netns: &str) -> Self {
        Self { bin: self.bin.clone(), netns: Some(netns.to_owned()) }
    }

    /// A command with a clean environment for rix.
    pub fn command(&self) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        c.env_remove("RIX_CONFIG").env("RUST_LOG", "warn");
        c
    }

    /// Runs with `args`; returns the output whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("rix runs")
    }

    /// Runs with `args` and panics (showing stderr) unless it exits 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rix {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Starts `rix daemon` for `node` in the background, its log in `DIR/daemon.log`.
    pub fn spawn_daemon(&self, node: &NodeDir) -> Daemon {
        self.spawn_daemon_logging(node, "warn")
    }

    /// [`Rix::spawn_daemon`] with `RUST_LOG=filter`.
    pub fn spawn_daemon_logging(&self, node: &NodeDir, filter: &str) -> Daemon {
        self.spawn_daemon_with(node, &[("RUST_LOG", filter)], &node.dir.join("daemon.log"))
    }

    /// [`Rix::spawn_daemon`] with more environment (such as `RIX_FAILPOINT`), its log in `log`.
    pub fn spawn_daemon_with(&self, node: &NodeDir, env: &[(&str, &str)], log: &Path) -> Daemon {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
        Daemon(
            self.command()
                .envs(env.iter().copied())
                .args(["--config", node.config_arg(), "daemon"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .expect("daemon starts"),
        )
    }

    /// How many records `node` holds, every version and withdrawn ones included, as `rix
    /// list` reports them (through the daemon if it runs); 0 if the command fails.
    pub fn record_count(&self, node: &NodeDir) -> usize {
        let out = self.run(&["--json", "--config", node.config_arg(), "list", "--all-versions", "--include-withdrawn"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["records"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Runs with `--json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("rix {args:?}: not JSON ({e}):\n{text}"))
    }
}

/// One node directory made by `rix init`.
#[derive(Debug, Clone)]
pub struct NodeDir {
    /// Its member code.
    pub member: String,
    /// The node directory.
    pub dir: PathBuf,
    /// Its config file.
    pub config: PathBuf,
    /// Its libp2p listen port.
    pub p2p_port: u16,
    /// Its API port.
    pub api_port: u16,
    /// Its peer id.
    pub peer_id: String,
}

impl NodeDir {
    /// The config path as a string, for `--config`.
    pub fn config_arg(&self) -> &str {
        self.config.to_str().expect("utf-8 path")
    }

    /// The genesis hash of the node's charter file, in hex.
    pub fn genesis(&self) -> String {
        let config = rix_node::config::NodeConfig::load(&self.config).expect("config");
        rix_record::Charter::load(&config.config.charter).expect("charter").genesis_hash().to_string()
    }

    /// The network's gossip topic, which names its genesis hash.
    pub fn topic(&self) -> libp2p::gossipsub::IdentTopic {
        let config = rix_node::config::NodeConfig::load(&self.config).expect("config");
        let network = rix_record::Charter::load(&config.config.charter).expect("charter").network;
        rix_net::topic_for(&network, &self.genesis())
    }
}

/// A network of node directories sharing one charter, in a temporary directory.
pub struct TestNet {
    /// Keeps the directory alive.
    pub root: tempfile::TempDir,
    /// The nodes, in the order given.
    pub nodes: Vec<NodeDir>,
    /// The shared charter file.
    pub charter: PathBuf,
}

impl TestNet {
    /// Makes one node directory per member, all in one charter: `init_one(member, dir, p2p_port,
    /// api_port, charter)` creates it and returns `(config, peer_id)`.
    fn build(members: &[&str], mut init_one: impl FnMut(&str, &Path, u16, u16, &Path) -> (PathBuf, String)) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let charter = root.path().join("charter.toml");
        let nodes = members
            .iter()
            .map(|member| {
                let dir = root.path().join(member.to_lowercase());
                let (p2p_port, api_port) = (free_port(), free_port());
                let (config, peer_id) = init_one(member, &dir, p2p_port, api_port, &charter);
                tune_for_tests(&config);
                NodeDir { member: (*member).to_owned(), dir, config, p2p_port, api_port, peer_id }
            })
            .collect();
        Self { root, nodes, charter }
    }

    /// Runs the real `rix init` for each member, all adding themselves to one charter.
    pub fn init(rix: &Rix, members: &[&str]) -> Self {
        Self::init_on(rix, members, |_| "127.0.0.1".into())
    }

    /// Like [`TestNet::init`], with the `i`th member listening on IPv4 address `ip(i)`.
    pub fn init_on(rix: &Rix, members: &[&str], ip: impl Fn(usize) -> String) -> Self {
        let mut i = 0;
        Self::build(members, |member, dir, p2p_port, api_port, charter| {
            let listen = format!("/ip4/{}/tcp/{p2p_port}", ip(i));
            i += 1;
            let out = rix.json(&[
                "init",
                "--dir",
                dir.to_str().expect("utf-8 path"),
                "--member",
                member,
                "--network",
                "rix-test",
                "--listen",
                &listen,
                "--api",
                &format!("127.0.0.1:{api_port}"),
                "--charter",
                charter.to_str().expect("utf-8 path"),
            ]);
            (
                PathBuf::from(out["config"].as_str().expect("config path")),
                out["peer_id"].as_str().expect("peer id").to_owned(),
            )
        })
    }

    /// Like [`TestNet::init`] but through the library (no binary needed).
    pub fn create(members: &[&str]) -> Self {
        Self::build(members, |member, dir, p2p_port, _api_port, charter| {
            let out = init_node(&InitOptions {
                dir: dir.to_owned(),
                member: Some(member.parse().expect("member code")),
                name: None,
                listen: vec![format!("/ip4/127.0.0.1/tcp/{p2p_port}")],
                // Port 0: in-process nodes are reached through their handles, and a fixed port
                // could collide with another test (ports are picked by bind-and-release).
                api: "127.0.0.1:0".into(),
                charter: Some(charter.to_owned()),
                network: "rix-test".into(),
                join: None,
                genesis: None,
                force: false,
            })
            .expect("init node");
            (out.config, out.peer_id)
        })
    }

    /// The node of `member`.
    pub fn node(&self, member: &str) -> &NodeDir {
        self.nodes.iter().find(|n| n.member == member).expect("member in test net")
    }
}

/// Shortens sync and redial intervals so tests converge in seconds.
pub fn tune_for_tests(config: &Path) {
    let text = std::fs::read_to_string(config)
        .expect("config")
        .replace("interval_secs = 30", "interval_secs = 2")
        .replace("redial_max_secs = 60", "redial_max_secs = 2")
        .replace("recovery_timeout_secs = 30", "recovery_timeout_secs = 5");
    std::fs::write(config, text).expect("config");
}

/// A node of a [`TestNet`] running in this process.
pub struct TestNode {
    /// Its directory.
    pub dir: NodeDir,
    running: Option<RunningNode>,
}

impl TestNode {
    /// A stopped node for `dir`.
    pub fn new(dir: &NodeDir) -> Self {
        Self { dir: dir.clone(), running: None }
    }

    /// Starts the daemon (network, sync, API) in this process.
    pub async fn start(&mut self) {
        assert!(self.running.is_none(), "{} already running", self.dir.member);
        let config = rix_node::NodeConfig::load(&self.dir.config).expect("config");
        self.running = Some(rix_node::daemon::start(config).await.expect("node starts"));
    }

    /// Stops it gracefully.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
    }

    /// The running node.
    pub fn node(&self) -> &Arc<Node> {
        self.running.as_ref().map(RunningNode::node).unwrap_or_else(|| panic!("{} is not running", self.dir.member))
    }

    /// Records in its replica.
    pub fn records(&self) -> u64 {
        self.node().replica().len().expect("replica")
    }

    /// Publishes a simple record with `title` as this node's member.
    pub async fn publish(&self, title: &str) -> RecordView {
        self.node().publish(content(title)).await.expect("publish")
    }

    /// The sum of the node's Prometheus samples whose line starts with `line_prefix` (a metric
    /// name, optionally with the start of its labels).
    pub fn metric(&self, line_prefix: &str) -> u64 {
        self.node()
            .metrics()
            .render()
            .lines()
            .filter(|l| l.starts_with(line_prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Connected peers.
    pub async fn peer_count(&self) -> usize {
        self.node().net().peers().await.map(|p| p.len()).unwrap_or(0)
    }
}

/// A minimal publication.
pub fn content(title: &str) -> Content {
    Content::Publication(Box::new(Publication::new(
        Kind::BestPractice,
        title,
        "en".parse().expect("tag"),
        vec![KeyFactor::Transparency],
    )))
}

/// Writes `envelopes` as a signed pack (the current version, all records) at `path`.
pub fn write_pack<E: AsRef<[u8]>>(path: &Path, envelopes: impl IntoIterator<Item = E>) {
    let out = std::io::BufWriter::new(std::fs::File::create(path).expect("pack file"));
    let mut pack = rix_record::pack::PackWriter::new(out).expect("header");
    for e in envelopes {
        pack.write(rix_record::pack::EntryKind::Record, e.as_ref()).expect("entry");
    }
    std::io::Write::flush(&mut pack.finish().expect("end marker")).expect("flush");
}

/// The envelopes of the signed pack at `path`, in order, whatever their kind; panics if the
/// pack is damaged.
pub fn read_pack(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("pack file");
    rix_record::pack::PackReader::new(file).expect("a pack").map(|e| e.expect("a whole pack").1).collect()
}

/// A plain HTTP GET over a TCP socket, whole response (the metrics endpoint needs no token).
pub fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).expect("a path");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("response");
    body
}

impl Daemon {
    /// SIGTERM, then asserts that the daemon exited 0.
    pub fn stop_cleanly(mut self) {
        signal(&self, nix::sys::signal::Signal::SIGTERM);
        let status = self.wait().expect("wait");
        assert!(status.success(), "the daemon exited with {status} on SIGTERM");
    }
}

/// Sends `sig` to a child process.
pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).expect("signal delivered");
}

/// Polls `condition` every 200 ms until it holds, panicking with `what` after `timeout` (for
/// tests that drive processes rather than in-process nodes).
pub fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls `condition` every 100 ms until it holds, panicking with `what` after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This process's resident set size and its peak so far, in bytes (Linux `/proc/self/status`).
pub fn rss_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes received on `lo` since boot, by every process (each loopback byte is counted once as
/// received); benchmarks subtract an earlier reading.
pub fn loopback_bytes() -> u64 {
    let dev = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    dev.lines()
        .find_map(|l| l.trim_start().strip_prefix("lo:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("a loopback interface")
}

/// The value at fraction `p` (0.5 median, 0.99 p99) of a sorted, non-empty slice.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// CPU time (all threads, user + system) a process has used: `None` for this process. Read
/// from `/proc/PID/stat`; zero if the process is gone.
pub fn cpu_time(pid: Option<u32>) -> Duration {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at ")"; utime and stime
    // are the 14th and 15th fields, in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The nine signatories of the Almaty resolution, as the benchmarks' nine-node networks.
pub const ALMATY_MEMBERS: [&str; 9] = ["AZ", "CN", "JP", "KZ", "KG", "MN", "RU", "TJ", "UZ"];

/// A benchmark's size knob: the environment variable `name` as a number, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The propagation benchmarks' record number `i`: a best practice with a body of 880 bytes.
pub fn bench_publication(i: usize) -> Content {
    let mut p = Publication::new(
        Kind::BestPractice,
        format!("Practice {i}"),
        "en".parse().expect("language"),
        vec![KeyFactor::Automation],
    );
    p.body = "Measures and results. ".repeat(40);
    Content::Publication(Box::new(p))
}
