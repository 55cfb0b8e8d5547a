//! Prometheus metrics of a running node, served at `/metrics` on the local API.
//! `docs/operations.md` explains each one.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    /// Records in the replica.
    pub records_stored: Gauge,
    /// Bytes free on the disk holding the data directory.
    pub disk_free_bytes: Gauge,
    /// 1 while free space is below the reserve and records from outside are refused.
    pub ingest_paused: Gauge,
    /// New records stored, by how they arrived (`gossip`, `sync`, `publish`, `import`).
    pub records_received: Family<Labels, Counter>,
    /// Records rejected, by reason and how they arrived.
    pub records_rejected: Family<Labels, Counter>,
    /// Records received that were already held.
    pub records_duplicate: Family<Labels, Counter>,
    /// Equivocations detected (evidence kept).
    pub equivocations: Counter,
    /// Sync rounds, by result (`ok`, `error`).
    pub sync_rounds: Family<Labels, Counter>,
    /// Records fetched by sync and newly stored.
    pub sync_records_fetched: Counter,
    /// Sync requests served to peers.
    pub sync_requests_served: Counter,
    /// Connected admitted peers.
    pub peers_connected: Gauge,
    /// Connections refused because the charter does not admit the peer.
    pub connections_refused: Counter,
    /// Per member: highest sequence number seen at any peer minus what is held contiguously.
    pub member_lag: Family<Labels, Gauge>,
    /// Sync requests answered "busy", by the limit hit (`inflight`, `rate`).
    pub sync_refused: Family<Labels, Counter>,
    /// Misbehaviour penalties, by offence.
    pub penalties: Family<Labels, Counter>,
    /// Peers banned for misbehaviour.
    pub peers_banned: Counter,
    /// Gossip messages from banned peers dropped unread.
    pub gossip_dropped: Counter,
    /// The number of the charter version in force.
    pub charter_version: Gauge,
    /// Charter amendments and approvals received, by source and outcome (`new`, `duplicate`,
    /// `rejected`, `ignored`).
    pub charter_items: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `rix_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rix");
        let m = Self {
            records_stored: Gauge::default(),
            disk_free_bytes: Gauge::default(),
            ingest_paused: Gauge::default(),
            records_received: Family::default(),
            records_rejected: Family::default(),
            records_duplicate: Family::default(),
            equivocations: Counter::default(),
            sync_rounds: Family::default(),
            sync_records_fetched: Counter::default(),
            sync_requests_served: Counter::default(),
            peers_connected: Gauge::default(),
            connections_refused: Counter::default(),
            member_lag: Family::default(),
            sync_refused: Family::default(),
            penalties: Family::default(),
            peers_banned: Counter::default(),
            gossip_dropped: Counter::default(),
            charter_version: Gauge::default(),
            charter_items: Family::default(),
            registry: Registry::default(),
        };
        registry.register("records_stored", "Records in the replica", m.records_stored.clone());
        registry.register(
            "disk_free_bytes",
            "Bytes free on the disk holding the data directory",
            m.disk_free_bytes.clone(),
        );
        registry.register(
            "ingest_paused",
            "1 while free space is below store.reserve_mb and records from outside are refused",
            m.ingest_paused.clone(),
        );
        registry.register("records_received", "New records stored, by source", m.records_received.clone());
        registry.register("records_rejected", "Records rejected, by reason and source", m.records_rejected.clone());
        registry.register("records_duplicate", "Records received that were already held", m.records_duplicate.clone());
        registry.register("equivocations", "Equivocations detected", m.equivocations.clone());
        registry.register("sync_rounds", "Sync rounds with peers, by result", m.sync_rounds.clone());
        registry.register("sync_records_fetched", "Records fetched by sync and stored", m.sync_records_fetched.clone());
        registry.register("sync_requests_served", "Sync requests answered", m.sync_requests_served.clone());
        registry.register("peers_connected", "Connected admitted peers", m.peers_connected.clone());
        registry.register(
            "connections_refused",
            "Connections refused (peer not in charter)",
            m.connections_refused.clone(),
        );
        registry.register("member_lag", "Records of a member known at peers but not held", m.member_lag.clone());
        registry.register("sync_refused", "Sync requests answered busy, by limit", m.sync_refused.clone());
        registry.register("penalties", "Misbehaviour penalties, by offence", m.penalties.clone());
        registry.register("peers_banned", "Peers banned for misbehaviour", m.peers_banned.clone());
        registry.register("gossip_dropped", "Gossip from banned peers dropped unread", m.gossip_dropped.clone());
        registry.register("charter_version", "The charter version in force", m.charter_version.clone());
        registry.register(
            "charter_items",
            "Charter amendments and approvals received, by source and outcome",
            m.charter_items.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts `n` charter items of `source` with `outcome`.
    pub fn charter_items(&self, source: &str, outcome: &str, n: u64) {
        if n > 0 {
            let labels = vec![("source".into(), source.into()), ("outcome".into(), outcome.into())];
            self.charter_items.get_or_create(&labels).inc_by(n);
        }
    }

    /// Counts one received record of `source`.
    pub fn received(&self, source: &str) {
        self.records_received.get_or_create(&vec![("source".into(), source.into())]).inc();
    }

    /// Counts one rejected record.
    pub fn rejected(&self, source: &str, reason: &str) {
        self.records_rejected
            .get_or_create(&vec![("source".into(), source.into()), ("reason".into(), reason.into())])
            .inc();
    }

    /// Counts one duplicate.
    pub fn duplicate(&self, source: &str) {
        self.records_duplicate.get_or_create(&vec![("source".into(), source.into())]).inc();
    }

    /// Counts a sync request refused by the serving limits.
    pub fn sync_refused(&self, reason: &str) {
        self.sync_refused.get_or_create(&vec![("reason".into(), reason.into())]).inc();
    }

    /// Counts a misbehaviour penalty.
    pub fn penalty(&self, offence: &str) {
        self.penalties.get_or_create(&vec![("offence".into(), offence.into())]).inc();
    }

    /// Counts a finished sync round.
    pub fn sync_round(&self, ok: bool) {
        self.sync_rounds.get_or_create(&vec![("result".into(), if ok { "ok" } else { "error" }.into())]).inc();
    }

    /// Sets a member's lag.
    pub fn set_lag(&self, member: &str, lag: u64) {
        self.member_lag.get_or_create(&vec![("member".into(), member.into())]).set(lag as i64);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
