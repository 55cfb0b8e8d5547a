//! [`ApiBackend`]: the CLI's [`Backend`] when the daemon is running, speaking to its local API.

use std::time::Duration;

use rix_record::{Content, RecordId};
use rix_store::query::{RecordFilter, RecordList, RecordView, StatsReport};
use serde::de::DeserializeOwned;

use crate::backend::{Backend, ReindexReport};
use crate::config::LoadedConfig;
use crate::error::NodeError;
use crate::ops::{ImportReport, PeerView, StatusView, VerifyReport};
use rix_search::{SearchQuery, SearchResults};

/// A client of a running daemon's API.
pub struct ApiBackend {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl ApiBackend {
    /// Connects to the daemon of this config, if one is running: `None` when there is no token
    /// file or nothing answers on the API address.
    pub fn connect(config: &LoadedConfig) -> Result<Option<Self>, NodeError> {
        let Ok(token) = std::fs::read_to_string(config.api_token_path()) else {
            return Ok(None);
        };
        let addr = config.config.api_addr().map_err(NodeError::Api)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        let api = Self { agent, base: format!("http://{addr}"), token: token.trim().to_owned() };
        match api.agent.get(format!("{}/v1/health", api.base)).header("Authorization", &api.auth()).call() {
            Ok(r) if r.status().is_success() => Ok(Some(api)),
            Ok(r) => Err(NodeError::Api(format!(
                "the daemon's API at {} answered {}; is the token file stale?",
                api.base,
                r.status()
            ))),
            // A stale token file after a crash: nothing listens.
            Err(_) => Ok(None),
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn read<T: DeserializeOwned>(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, NodeError> {
        let bytes = self.bytes(response)?;
        serde_json::from_slice(&bytes).map_err(|e| NodeError::Api(format!("unexpected answer from the daemon: {e}")))
    }

    fn bytes(&self, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Vec<u8>, NodeError> {
        let mut response = self.success(response)?;
        response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| NodeError::Api(format!("reading the daemon's answer: {e}")))
    }

    /// The response if it is a success, its error message otherwise.
    fn success(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, NodeError> {
        let mut response = response.map_err(|e| NodeError::Api(format!("daemon API at {}: {e}", self.base)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| NodeError::Api(format!("reading the daemon's answer: {e}")))?;
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        Err(NodeError::Api(message))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, NodeError> {
        self.read(self.agent.get(format!("{}{path}", self.base)).header("Authorization", &self.auth()).call())
    }

    /// `rix peers`.
    pub fn peers(&self) -> Result<Vec<PeerView>, NodeError> {
        #[derive(serde::Deserialize)]
        struct Peers {
            peers: Vec<PeerView>,
        }
        Ok(self.get::<Peers>("/v1/peers")?.peers)
    }
}

/// Encodes a filter as a query string (the API decodes it into the same struct).
fn query(filter: &RecordFilter) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |k: &str, v: String| parts.push(format!("{k}={}", encode(&v)));
    if let Some(k) = filter.kind {
        add("kind", k.slug().into());
    }
    if let Some(m) = &filter.member {
        add("member", m.to_string());
    }
    if let Some(f) = filter.factor {
        add("factor", f.slug().into());
    }
    if let Some(s) = filter.since {
        add("since", s.to_string());
    }
    if let Some(l) = &filter.language {
        add("language", l.clone());
    }
    if let Some(n) = filter.limit {
        add("limit", n.to_string());
    }
    if filter.all_versions {
        add("all_versions", "true".into());
    }
    if filter.include_withdrawn {
        add("include_withdrawn", "true".into());
    }
    parts.join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Backend for ApiBackend {
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, NodeError> {
        self.get(&format!("/v1/records?{}", query(filter)))
    }

    fn show(&self, id: &str) -> Result<RecordView, NodeError> {
        self.get(&format!("/v1/records/{}", encode(id)))
    }

    fn stats(&self) -> Result<StatsReport, NodeError> {
        self.get("/v1/stats")
    }

    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, NodeError> {
        let mut response = self.success(
            self.agent
                .get(format!("{}/v1/export?{}", self.base, query(filter)))
                .header("Authorization", &self.auth())
                .call(),
        )?;
        // JSON lines, read as they arrive.
        let reader = std::io::BufReader::new(response.body_mut().with_config().limit(u64::MAX).reader());
        let broken = |e: &dyn std::fmt::Display| NodeError::Api(format!("export from the daemon: {e}"));
        let mut done = 0;
        for line in std::io::BufRead::lines(reader) {
            let view: RecordView = serde_json::from_str(&line.map_err(|e| broken(&e))?).map_err(|e| broken(&e))?;
            each(view).map_err(|source| NodeError::Io { context: "writing the export".into(), source })?;
            done += 1;
        }
        Ok(done)
    }

    fn export_signed(&self, each: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>) -> Result<u64, NodeError> {
        let mut response = self.success(
            self.agent.get(format!("{}/v1/export/signed", self.base)).header("Authorization", &self.auth()).call(),
        )?;
        let total = response
            .headers()
            .get(crate::api::EXPORT_COUNT_HEADER.as_str())
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        // Read as it arrives: the pack of a large replica does not fit in memory twice.
        let reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let broken = |e: rix_record::pack::PackError| NodeError::Api(format!("signed export from the daemon: {e}"));
        let mut done = 0;
        for envelope in rix_record::pack::PackReader::new(reader).map_err(broken)? {
            each(&envelope.map_err(broken)?, total)
                .map_err(|source| NodeError::Io { context: "writing the export".into(), source })?;
            done += 1;
        }
        Ok(done)
    }

    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, NodeError> {
        // The pack goes to the daemon as it is read, and the daemon imports it as it arrives;
        // progress counts the entries sent.
        progress(0, total);
        let entries = rix_record::pack::PackReader::new(pack).map_err(|e| NodeError::Pack(e.to_string()))?;
        let mut counted = CountedPack { entries, buffer: Vec::new(), at: 0, sent: 0, total, progress };
        rix_record::pack::write_header(&mut counted.buffer).expect("vec");
        self.read(
            self.agent
                .post(format!("{}/v1/import", self.base))
                .header("Authorization", &self.auth())
                .header("Content-Type", "application/octet-stream")
                .send(ureq::SendBody::from_reader(&mut counted)),
        )
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, NodeError> {
        let report: VerifyReport = self.get("/v1/verify")?;
        progress(report.checked as u64, report.checked as u64);
        Ok(report)
    }

    fn status(&self) -> Result<StatusView, NodeError> {
        self.get("/v1/status")
    }

    fn publish(&self, content: Content) -> Result<RecordView, NodeError> {
        let body = serde_json::to_vec(&content).expect("serialisable");
        self.read(
            self.agent
                .post(format!("{}/v1/publish", self.base))
                .header("Authorization", &self.auth())
                .header("Content-Type", "application/json")
                .send(&body[..]),
        )
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError> {
        let filter = crate::client::query(&query.filter);
        let sep = if filter.is_empty() { "" } else { "&" };
        self.get(&format!("/v1/search?text={}{sep}{filter}", encode(&query.text)))
    }

    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, NodeError> {
        let report: ReindexReport = self.read(
            self.agent.post(format!("{}/v1/reindex", self.base)).header("Authorization", &self.auth()).send_empty(),
        )?;
        progress(report.records, report.records);
        Ok(report)
    }

    fn history(&self, id: &str) -> Result<Vec<RecordView>, NodeError> {
        Ok(self.get::<RecordList>(&format!("/v1/history/{}", encode(id)))?.records)
    }

    fn resolve(&self, prefix: &str) -> Result<RecordId, NodeError> {
        #[derive(serde::Deserialize)]
        struct Resolved {
            id: RecordId,
        }
        Ok(self.get::<Resolved>(&format!("/v1/resolve/{}", encode(prefix)))?.id)
    }
}

/// A pack re-framed entry by entry as it is sent (the same bytes), counting the entries for
/// progress while the daemon imports them.
struct CountedPack<'a, 'p> {
    entries: rix_record::pack::PackReader<&'a mut dyn std::io::Read>,
    /// Framed bytes not yet handed to the request, from `at`.
    buffer: Vec<u8>,
    at: usize,
    sent: u64,
    total: u64,
    progress: &'p mut dyn FnMut(u64, u64),
}

impl std::io::Read for CountedPack<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
            match self.entries.next() {
                None => return Ok(0),
                Some(entry) => rix_record::pack::write_entry(&mut self.buffer, &entry.map_err(std::io::Error::other)?)?,
            }
            self.sent += 1;
            (self.progress)(self.sent, self.total);
        }
        let n = buf.len().min(self.buffer.len() - self.at);
        buf[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
