//! Node configuration: one TOML file, one serde struct per subsystem, every field defaulted
//! and documented. Relative paths are relative to the directory of the config file.
//!
//! `node-config/node.example.toml` shows every field with its default; a test parses it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rix_net::Multiaddr;
use rix_record::MemberCode;
use serde::{Deserialize, Serialize};

use crate::config_text::{self, text, text_list};

/// A config file that cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// TOML syntax (the message names the line).
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// An unknown, missing or mistyped field, or a value that does not parse (a multiaddress,
    /// a socket address); the message names the line.
    #[error("config {path}: field `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// Dotted field name, as far as it was read.
        field: String,
        /// The parser's message.
        message: String,
    },
    /// A field's value is not acceptable.
    #[error("config {path}: field `{field}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's member code in the charter, or absent for an observer node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberCode>,
    /// The charter file. Default `charter.toml`.
    #[serde(default = "default_charter")]
    pub charter: PathBuf,
    /// Where the replica, API token and other state live. Default `data`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Key files.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Peer-to-peer networking.
    #[serde(default)]
    pub network: NetworkConfig,
    /// Anti-entropy sync.
    #[serde(default)]
    pub sync: SyncConfig,
    /// The local HTTP API used by the CLI.
    #[serde(default)]
    pub api: ApiConfig,
    /// The replica.
    #[serde(default)]
    pub store: StoreConfig,
}

/// `[keys]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// The member's record-signing key (ed25519 seed, hex, mode 0600). Default `keys/signing.key`.
    pub signing: PathBuf,
    /// The node's libp2p identity key (ed25519 seed, hex, mode 0600). Default `keys/node.key`.
    pub node: PathBuf,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { signing: "keys/signing.key".into(), node: "keys/node.key".into() }
    }
}

/// `[network]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Multiaddresses to listen on. Default `["/ip4/0.0.0.0/tcp/4001"]`.
    #[serde(with = "text_list")]
    pub listen: Vec<Multiaddr>,
    /// Also find peers on the local network with mDNS (they must still be in the charter).
    /// Only in a build with the `mdns` feature; `true` is refused otherwise. Default false.
    pub mdns: bool,
    /// First redial delay after a failed dial, seconds; doubles up to `redial_max_secs`.
    /// Default 1.
    pub redial_min_secs: u64,
    /// Longest redial delay, seconds. Default 60.
    pub redial_max_secs: u64,
    /// Close a connection idle this long, seconds. Default 3600 (members stay connected).
    pub idle_timeout_secs: u64,
    /// Most simultaneous connections. Default 64.
    pub max_connections: u32,
    /// Refuse new connections while the daemon's memory use exceeds this many MiB (0: no
    /// limit). Default 1024.
    pub max_memory_mb: u64,
    /// Misbehaviour a peer may accumulate before it is banned. An invalid gossip record costs
    /// three quarters of it (two within 95 s ban), an invalid record served by sync all of it,
    /// a sync request over the serving limits 2, a gossip record already held (a replay) 1;
    /// the tally halves every minute (`docs/protocol.md` §4.4). Default 100.
    pub ban_threshold: u32,
    /// How long a ban lasts, seconds. Default 600.
    pub ban_secs: u64,
    /// Milliseconds a new, valid gossip record waits after arriving before this node relays
    /// it to its gossip mesh (it is stored at once). Meanwhile the peers that already have it
    /// say so, and it is not sent to them again: on nine nodes, where the publisher sends to
    /// every peer itself, this halves the bytes each node receives. Adds this much to each
    /// relay hop. 0 relays at once. Default 15.
    pub forward_hold_ms: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        let scoring = rix_engine::ScoringConfig::default();
        Self {
            listen: vec!["/ip4/0.0.0.0/tcp/4001".parse().expect("a valid multiaddress")],
            mdns: false,
            redial_min_secs: 1,
            redial_max_secs: 60,
            idle_timeout_secs: 3600,
            max_connections: 64,
            max_memory_mb: 1024,
            ban_threshold: scoring.threshold as u32,
            ban_secs: scoring.ban.as_secs(),
            forward_hold_ms: 15,
        }
    }
}

/// `[sync]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Seconds between sync rounds with each connected peer (one also runs on connect), each
    /// wait jittered by up to 25% either way. Default 30.
    pub interval_secs: u64,
    /// Most records one sync response carries, 1 to 4096 (the protocol's cap). Default 512.
    pub batch_records: u32,
    /// Seconds before an unanswered sync request fails. Default 30.
    pub request_timeout_secs: u64,
    /// Seconds a node whose signing history is unknown (journal missing) waits for a peer to
    /// supply it before it warns in its log that recovery is stuck and what to do, then again
    /// every as many seconds; publishing stays refused until it succeeds. Default 30.
    pub recovery_timeout_secs: u64,
    /// Sync requests one peer may have in flight at this node. Default 4.
    pub serve_inflight_per_peer: u32,
    /// Sustained sync requests per second one peer may make of this node. Default 50.
    pub serve_requests_per_sec: u32,
    /// Sync requests one peer may make at once after being quiet. Default 100.
    pub serve_burst: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        let serve = rix_engine::ServeLimits::default();
        Self {
            interval_secs: 30,
            batch_records: 512,
            request_timeout_secs: 30,
            recovery_timeout_secs: 30,
            // The engine's defaults, written once there.
            serve_inflight_per_peer: serve.inflight_per_peer as u32,
            serve_requests_per_sec: serve.requests_per_sec as u32,
            serve_burst: serve.burst as u32,
        }
    }
}

impl NetworkConfig {
    /// The engine's misbehaviour accounting these settings mean.
    pub fn scoring(&self) -> rix_engine::ScoringConfig {
        rix_engine::ScoringConfig {
            threshold: f64::from(self.ban_threshold),
            ban: std::time::Duration::from_secs(self.ban_secs),
            ..rix_engine::ScoringConfig::default()
        }
    }
}

impl SyncConfig {
    /// What one peer may ask of this node, as the engine's serve budget.
    pub fn serve_limits(&self) -> rix_engine::ServeLimits {
        rix_engine::ServeLimits {
            inflight_per_peer: self.serve_inflight_per_peer as usize,
            requests_per_sec: f64::from(self.serve_requests_per_sec),
            burst: f64::from(self.serve_burst),
        }
    }
}

/// `[api]`: the local HTTP API and the web view it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address of the local HTTP API and the web view. Default `127.0.0.1:7401`. rix serves
    /// plain HTTP, so an address other than loopback is refused unless
    /// [`ApiConfig::allow_plaintext_remote`] is set.
    #[serde(with = "text")]
    pub listen: SocketAddr,
    /// Further `Host` names the web view answers to, such as the name of a TLS reverse proxy
    /// in front of it (`"rix.customs.example"`). The listen address (and `localhost:PORT` on
    /// loopback) is always answered; any other name is refused, against DNS rebinding.
    pub hosts: Vec<String>,
    /// Allow `listen` on an address other than loopback, in plain HTTP: tokens, session
    /// cookies and records then cross the network unencrypted. Default false; prefer a TLS
    /// reverse proxy on the node's machine forwarding to a loopback `listen`.
    pub allow_plaintext_remote: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 7401)), hosts: Vec::new(), allow_plaintext_remote: false }
    }
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// sled page cache, MiB. Default [`DEFAULT_CACHE_MB`] (8).
    pub cache_capacity_mb: u64,
    /// `fdatasync` the replica before acknowledging a record this node publishes or imports,
    /// so it survives a power cut, not only a crash of the process (records from peers are
    /// flushed without it: peers still hold them). Default true.
    pub fsync: bool,
    /// Keep the full-text search index (`DATA_DIR/search`) up to date in the daemon. Off, the
    /// daemon saves the indexing work and memory (about 20 MB of writer buffer); `rix search`
    /// then says the index is unavailable. Default true.
    pub search_index: bool,
    /// Free space, MiB, to keep on the disk holding `data_dir`. Below it the node takes no
    /// records from peers or imports (it keeps answering queries, says so in `rix status` and
    /// its log, and resumes by itself when space returns); the member's own publishing may use
    /// the lower half of it. 0 turns the reserve off. Default 256.
    pub reserve_mb: u64,
}

/// sled's page cache by default, MiB. sled counts pages by their size on disk, and small index
/// entries take about twice that in memory, so 8 MiB of cache is about 18 MiB resident; with it
/// a daemon on a million records stays under 200 MiB (docs/performance.md). More cache speeds up
/// bulk catch-up by a quarter or so.
pub const DEFAULT_CACHE_MB: u64 = 8;

impl Default for StoreConfig {
    fn default() -> Self {
        Self { cache_capacity_mb: DEFAULT_CACHE_MB, fsync: true, search_index: true, reserve_mb: 256 }
    }
}

impl StoreConfig {
    /// The free-space reserve, bytes.
    pub fn reserve_bytes(&self) -> u64 {
        self.reserve_mb.saturating_mul(1 << 20)
    }

    /// The replica options these settings mean.
    pub fn replica_options(&self) -> rix_store::ReplicaOptions {
        rix_store::ReplicaOptions {
            cache_capacity_bytes: self.cache_capacity_mb * 1024 * 1024,
            fsync: self.fsync,
            ..rix_store::ReplicaOptions::default()
        }
    }
}

fn default_charter() -> PathBuf {
    "charter.toml".into()
}

fn default_data_dir() -> PathBuf {
    "data".into()
}

/// A loaded configuration with its paths made absolute.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config file.
    pub path: PathBuf,
    /// Its contents, paths resolved.
    pub config: NodeConfig,
}

impl NodeConfig {
    /// Reads, validates and resolves a config file.
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        let mut config = Self::parse(&text, path)?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        let base = std::path::absolute(&base).unwrap_or(base);
        for p in [&mut config.charter, &mut config.data_dir, &mut config.keys.signing, &mut config.keys.node] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(LoadedConfig { path: path.to_owned(), config })
    }

    /// Parses and validates config text; `path` names the file in errors. Paths stay as written.
    pub fn parse(text: &str, path: &Path) -> Result<NodeConfig, ConfigError> {
        let config: NodeConfig = config_text::from_toml(text, path)?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field, reason: String| ConfigError::Invalid { path: path.to_owned(), field, reason };
        if self.network.mdns && !cfg!(feature = "mdns") {
            return Err(invalid(
                "network.mdns",
                "this build of rix has no mDNS discovery; set it to false, or build rix with `--features mdns`".into(),
            ));
        }
        if self.network.listen.is_empty() {
            return Err(invalid(
                "network.listen",
                "needs at least one address: peers could not reach this node".into(),
            ));
        }
        if self.network.redial_min_secs == 0 || self.network.redial_min_secs > self.network.redial_max_secs {
            return Err(invalid("network.redial_min_secs", "must be at least 1 and at most redial_max_secs".into()));
        }
        // Settings that a zero would make meaningless or dangerous (never time out, ban on
        // nothing, serve nothing): refused rather than quietly raised to 1.
        let at_least_one: [(&'static str, u64); 9] = [
            ("network.idle_timeout_secs", self.network.idle_timeout_secs),
            ("network.max_connections", u64::from(self.network.max_connections)),
            ("network.ban_threshold", u64::from(self.network.ban_threshold)),
            ("sync.interval_secs", self.sync.interval_secs),
            ("sync.request_timeout_secs", self.sync.request_timeout_secs),
            ("sync.recovery_timeout_secs", self.sync.recovery_timeout_secs),
            ("sync.serve_inflight_per_peer", u64::from(self.sync.serve_inflight_per_peer)),
            ("sync.serve_requests_per_sec", u64::from(self.sync.serve_requests_per_sec)),
            ("sync.serve_burst", u64::from(self.sync.serve_burst)),
        ];
        if let Some((field, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err(invalid(field, "must be at least 1".into()));
        }
        let most = rix_net::protocol::MAX_FETCH_RECORDS;
        if !(1..=most).contains(&self.sync.batch_records) {
            // The protocol caps a fetch at this many records; a larger setting would be cut
            // down silently.
            return Err(invalid(
                "sync.batch_records",
                format!("must be between 1 and {most}, the protocol's cap on one fetch"),
            ));
        }
        if self.store.cache_capacity_mb == 0 {
            return Err(invalid("store.cache_capacity_mb", "must be at least 1".into()));
        }
        if !self.api.listen.ip().is_loopback() && !self.api.allow_plaintext_remote {
            return Err(invalid(
                "api.listen",
                format!(
                    "{} is not a loopback address, and rix serves its API and web view in plain HTTP: \
                     keep it on 127.0.0.1 (behind a TLS reverse proxy for remote readers, its name in \
                     api.hosts), or set api.allow_plaintext_remote = true to accept the risk",
                    self.api.listen
                ),
            ));
        }
        if let Some(bad) = self.api.hosts.iter().find(|h| {
            h.is_empty() || !h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        }) {
            return Err(invalid("api.hosts", format!("{bad:?} is not a host name (with an optional :port)")));
        }
        Ok(())
    }
}

impl LoadedConfig {
    /// The replica directory.
    pub fn replica_dir(&self) -> PathBuf {
        self.config.data_dir.join("replica")
    }

    /// The search index directory (derived from the replica; safe to delete).
    pub fn search_dir(&self) -> PathBuf {
        self.config.data_dir.join("search")
    }

    /// The API token file (written by the daemon at start, mode 0600).
    pub fn api_token_path(&self) -> PathBuf {
        self.config.data_dir.join("api.token")
    }

    /// The file holding the last record this member signed (next to the signing key, so it
    /// survives the loss of the data directory).
    pub fn journal_path(&self) -> PathBuf {
        self.config.keys.signing.with_file_name("last-signed.rix")
    }
}

/// The text of a new config file, with every section and its defaults commented.
pub fn config_template(member: Option<&MemberCode>, listen: &[String], api: &str) -> String {
    let member_line = match member {
        Some(m) => format!("member = \"{m}\""),
        None => "# member = \"KZ\"   # absent: an observer node that replicates but does not author".into(),
    };
    let listen = listen.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
    format!(
        r#"# rix node configuration. Relative paths are relative to this file's directory.
# Every field is optional except `member` on an authoring node; defaults are shown.

# This node's member code in the charter.
{member_line}
# The network's charter (members, keys, addresses).
charter = "charter.toml"
# Replica, API token and other state.
data_dir = "data"

[keys]
# The member's record-signing key. Secret: mode 0600, back it up offline.
signing = "keys/signing.key"
# The node's libp2p identity (its peer id is in the charter).
node = "keys/node.key"

[network]
listen = [{listen}]
# Also discover peers on the LAN with mDNS (they must still be in the charter).
mdns = false
redial_min_secs = 1
redial_max_secs = 60
idle_timeout_secs = 3600
max_connections = 64

[sync]
interval_secs = 30
batch_records = 512
request_timeout_secs = 30
recovery_timeout_secs = 30

[api]
# The local API for the rix CLI, and the analysts' web view (`rix web` prints its address).
# Plain HTTP: keep it on loopback; a non-loopback address needs allow_plaintext_remote = true.
listen = "{api}"
# Further Host names the web view answers to (a TLS reverse proxy's name, for example).
hosts = []

[store]
cache_capacity_mb = {DEFAULT_CACHE_MB}
# Free space to keep on the data directory's disk: below it the node takes no records from
# peers or imports until space is freed (publishing may use half of it).
reserve_mb = 256
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<LoadedConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        NodeConfig::load(&path)
    }

    #[test]
    fn template_parses_and_paths_resolve_against_the_file() {
        let loaded = load_text(&config_template(
            Some(&"KZ".parse().unwrap()),
            &["/ip4/127.0.0.1/tcp/4101".into()],
            "127.0.0.1:7501",
        ))
        .unwrap();
        assert_eq!(loaded.config.member.as_ref().unwrap().as_str(), "KZ");
        assert!(loaded.config.data_dir.is_absolute());
        assert_eq!(loaded.config.api.listen.port(), 7501);
        assert!(loaded.journal_path().ends_with("keys/last-signed.rix"));
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let e = load_text("member = \"KZ\"\n[api]\nlisten = \"localhost\"\n").unwrap_err().to_string();
        assert!(e.contains("node.toml") && e.contains("api.listen"), "{e}");
        let e = load_text("member = \"KZ\"\n[sync]\ninterval = 5\n").unwrap_err().to_string();
        assert!(e.contains("node.toml") && e.contains("interval") && e.contains("line 3"), "{e}");
        let e = load_text("member = \"kz\"\n").unwrap_err().to_string();
        assert!(e.contains("member") && e.contains("not a member code"), "{e}");
    }

    #[test]
    fn settings_beyond_the_protocol_or_the_build_are_refused_at_load() {
        let e = load_text("[sync]\nbatch_records = 5000\n").unwrap_err().to_string();
        assert!(e.contains("sync.batch_records") && e.contains("4096"), "{e}");
        assert!(load_text("[sync]\nbatch_records = 4096\n").is_ok());
        let e = load_text("[network]\nlisten = [\"/ip4/1.2.3.4/tcp/x\"]\n").unwrap_err().to_string();
        assert!(e.contains("node.toml") && e.contains("network.listen") && e.contains("not a multiaddress"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = load_text("[network]\nlisten = []\n").unwrap_err().to_string();
        assert!(e.contains("network.listen") && e.contains("at least one"), "{e}");
        for zero in ["[network]\nban_threshold = 0", "[sync]\nserve_burst = 0", "[sync]\nrequest_timeout_secs = 0"] {
            let e = load_text(zero).unwrap_err().to_string();
            let field =
                zero.split(['[', ']', '\n', ' ']).filter(|s| !s.is_empty()).take(2).collect::<Vec<_>>().join(".");
            assert!(e.contains(&field) && e.contains("at least 1"), "{zero}: {e}");
        }
        let mdns = load_text("[network]\nmdns = true\n");
        if cfg!(feature = "mdns") {
            assert!(mdns.is_ok());
        } else {
            let e = mdns.unwrap_err().to_string();
            assert!(e.contains("network.mdns") && e.contains("--features mdns"), "{e}");
        }
    }
}
