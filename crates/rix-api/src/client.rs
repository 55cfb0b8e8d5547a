//! [`ApiClient`]: the [`Backend`] of a running daemon, over its local HTTP API. It reads every
//! answer into the typed views; an answer it cannot read is an [`Error::Malformed`], never a
//! panic.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rix_record::amendment::Change;
use rix_record::pack::{PackError, PackReader, PackWriter};
use rix_record::{Content, RecordId};
use serde::de::DeserializeOwned;

use crate::backend::Backend;
use crate::charter::{CharterLog, CharterView, PendingProposals, ProposalView};
use crate::error::{Error, ErrorBody, ErrorKind};
use crate::filter::{RecordFilter, SearchQuery, SearchResults, percent_encode};
use crate::reports::{ImportReport, PeerView, ReindexReport, StatsReport, StatusView, VerifyReport};
use crate::routes;
use crate::views::{RecordList, RecordView};

type Response = ureq::http::Response<ureq::Body>;

/// A client of a running daemon's API.
pub struct ApiClient {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl ApiClient {
    /// Connects to the daemon whose API listens on `addr`, with the token in `token_file`:
    /// `None` when there is no token file or nothing answers (no daemon runs, or a stale token
    /// file after a crash).
    pub fn connect(addr: SocketAddr, token_file: &Path) -> Result<Option<Self>, Error> {
        let Ok(token) = std::fs::read_to_string(token_file) else {
            return Ok(None);
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        let api = Self { agent, base: format!("http://{addr}"), auth: format!("Bearer {}", token.trim()) };
        match api.agent.get(api.url(routes::HEALTH)).header("Authorization", &api.auth).call() {
            Ok(r) if r.status().is_success() => Ok(Some(api)),
            Ok(r) => Err(Error::refused(
                ErrorKind::from_status(r.status().as_u16()),
                format!("the daemon's API at {} answered {}; is the token file stale?", api.base, r.status()),
            )),
            Err(_) => Ok(None),
        }
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The response if it is a success; the daemon's error otherwise.
    fn success(&self, response: Result<Response, ureq::Error>) -> Result<Response, Error> {
        let mut response =
            response.map_err(|source| Error::Unreachable { base: self.base.clone(), source: Box::new(source) })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(1 << 20).read_to_vec().unwrap_or_default();
        let (kind, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error, kind }) => (kind.unwrap_or(ErrorKind::from_status(status)), error),
            Err(_) => (ErrorKind::from_status(status), String::from_utf8_lossy(&body).into_owned()),
        };
        Err(Error::Refused { kind, message })
    }

    fn malformed(&self, what: &str, reason: impl std::fmt::Display) -> Error {
        Error::Malformed { base: self.base.clone(), what: what.to_owned(), reason: reason.to_string() }
    }

    fn read<T: DeserializeOwned>(&self, what: &str, response: Result<Response, ureq::Error>) -> Result<T, Error> {
        let mut response = self.success(response)?;
        let bytes =
            response.body_mut().with_config().limit(u64::MAX).read_to_vec().map_err(|e| self.malformed(what, e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.malformed(what, e))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.read(path, self.agent.get(self.url(path)).header("Authorization", &self.auth).call())
    }

    fn post_json<T: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<T, Error> {
        self.read(
            path,
            self.agent
                .post(self.url(path))
                .header("Authorization", &self.auth)
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    fn get_stream(&self, path: &str) -> Result<Response, Error> {
        self.success(self.agent.get(self.url(path)).header("Authorization", &self.auth).call())
    }

    /// `rix peers`: the daemon's connected peers.
    pub fn peers(&self) -> Result<Vec<PeerView>, Error> {
        #[derive(serde::Deserialize)]
        struct Peers {
            peers: Vec<PeerView>,
        }
        Ok(self.get::<Peers>(routes::PEERS)?.peers)
    }

    /// `rix web`: a one-time login link to the daemon's web view.
    pub fn web_login(&self) -> Result<crate::WebLogin, Error> {
        self.post_json(routes::WEB_LOGIN, b"{}")
    }

    /// The daemon's metrics, OpenMetrics text.
    pub fn metrics(&self) -> Result<String, Error> {
        let mut response = self.success(self.agent.get(self.url(routes::METRICS)).call())?;
        response.body_mut().read_to_string().map_err(|e| self.malformed(routes::METRICS, e))
    }
}

impl Backend for ApiClient {
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, Error> {
        self.get(&format!("{}?{}", routes::RECORDS, filter.to_query()))
    }

    fn show(&self, id: &str) -> Result<RecordView, Error> {
        self.get(&format!("{}/{}", routes::RECORDS, percent_encode(id)))
    }

    fn stats(&self) -> Result<StatsReport, Error> {
        self.get(routes::STATS)
    }

    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, Error> {
        let mut response = self.get_stream(&format!("{}?{}", routes::EXPORT, filter.to_query()))?;
        // JSON lines, read as they arrive.
        let reader = std::io::BufReader::new(response.body_mut().with_config().limit(u64::MAX).reader());
        let mut done = 0;
        for line in std::io::BufRead::lines(reader) {
            let line = line.map_err(|e| self.malformed(routes::EXPORT, e))?;
            let view: RecordView = serde_json::from_str(&line).map_err(|e| self.malformed(routes::EXPORT, e))?;
            each(view).map_err(Error::io("writing the export"))?;
            done += 1;
        }
        Ok(done)
    }

    fn export_signed(&self, each: &mut crate::backend::PackSink<'_>) -> Result<u64, Error> {
        let mut response = self.get_stream(routes::EXPORT_SIGNED)?;
        let total = response
            .headers()
            .get(routes::EXPORT_COUNT_HEADER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        // Read as it arrives: the pack of a large replica does not fit in memory twice. The
        // reader checks the daemon's end marker: an export cut short is an error here.
        let reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let broken = |e: PackError| self.malformed(routes::EXPORT_SIGNED, e);
        let mut done = 0;
        for entry in PackReader::new(reader).map_err(broken)? {
            let (kind, envelope) = entry.map_err(broken)?;
            each(kind, &envelope, total).map_err(Error::io("writing the export"))?;
            done += 1;
        }
        Ok(done)
    }

    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, Error> {
        // The pack goes to the daemon as it is read, and the daemon imports it as it arrives;
        // progress counts the entries sent.
        progress(0, total);
        let entries = PackReader::new(pack).map_err(|e| Error::refused(ErrorKind::Invalid, e.to_string()))?;
        let writer = PackWriter::new(Vec::new()).map_err(Error::io("framing the pack"))?;
        let mut counted =
            CountedPack { entries, writer: Some(writer), tail: Vec::new(), at: 0, sent: 0, total, progress };
        self.read(
            routes::IMPORT,
            self.agent
                .post(self.url(routes::IMPORT))
                .header("Authorization", &self.auth)
                .header("Content-Type", "application/octet-stream")
                .send(ureq::SendBody::from_reader(&mut counted)),
        )
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, Error> {
        let report: VerifyReport = self.get(routes::VERIFY)?;
        progress(report.checked as u64, report.checked as u64);
        Ok(report)
    }

    fn status(&self) -> Result<StatusView, Error> {
        self.get(routes::STATUS)
    }

    fn publish(&self, content: Content) -> Result<RecordView, Error> {
        let body = serde_json::to_vec(&content).map_err(|e| Error::refused(ErrorKind::Invalid, e.to_string()))?;
        self.post_json(routes::PUBLISH, &body)
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, Error> {
        self.get(&format!("{}?{}", routes::SEARCH, query.to_query()))
    }

    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, Error> {
        let report: ReindexReport = self.read(
            routes::REINDEX,
            self.agent.post(self.url(routes::REINDEX)).header("Authorization", &self.auth).send_empty(),
        )?;
        progress(report.records, report.records);
        Ok(report)
    }

    fn history(&self, id: &str) -> Result<Vec<RecordView>, Error> {
        Ok(self.get::<RecordList>(&format!("{}/{}", routes::HISTORY, percent_encode(id)))?.records)
    }

    fn charter(&self, version: Option<u64>) -> Result<CharterView, Error> {
        match version {
            Some(v) => self.get(&format!("{}?version={v}", routes::CHARTER)),
            None => self.get(routes::CHARTER),
        }
    }

    fn charter_log(&self) -> Result<CharterLog, Error> {
        self.get(routes::CHARTER_LOG)
    }

    fn charter_pending(&self) -> Result<PendingProposals, Error> {
        self.get(routes::CHARTER_PENDING)
    }

    fn charter_propose(&self, changes: Vec<Change>) -> Result<ProposalView, Error> {
        let body = serde_json::to_vec(&serde_json::json!({ "changes": changes }))
            .map_err(|e| Error::refused(ErrorKind::Invalid, e.to_string()))?;
        self.post_json(routes::CHARTER_PROPOSE, &body)
    }

    fn charter_approve(&self, proposal: &str) -> Result<ProposalView, Error> {
        self.post_json(&format!("{}/{}", routes::CHARTER_APPROVE, percent_encode(proposal)), b"{}")
    }

    fn resolve(&self, prefix: &str) -> Result<RecordId, Error> {
        #[derive(serde::Deserialize)]
        struct Resolved {
            id: RecordId,
        }
        Ok(self.get::<Resolved>(&format!("{}/{}", routes::RESOLVE, percent_encode(prefix)))?.id)
    }
}

/// A pack re-framed entry by entry as it is sent (a version 2 pack of the same entries, whatever
/// the version read), counting the entries for progress while the daemon imports them. An
/// entry that fails to read fails the request, so the daemon never sees an end marker for a
/// damaged pack.
struct CountedPack<'a, 'p> {
    entries: PackReader<&'a mut dyn std::io::Read>,
    /// Frames the entries; its buffer holds the bytes not yet sent (from `at`). `None` once the
    /// end marker is written, which is then in `tail`.
    writer: Option<PackWriter<Vec<u8>>>,
    tail: Vec<u8>,
    at: usize,
    sent: u64,
    total: u64,
    progress: &'p mut dyn FnMut(u64, u64),
}

impl CountedPack<'_, '_> {
    fn pending(&self) -> &[u8] {
        self.writer.as_ref().map_or(&self.tail[..], |w| &w.get_ref()[..])
    }
}

impl std::io::Read for CountedPack<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.pending().len() {
            let Some(writer) = self.writer.as_mut() else { return Ok(0) };
            writer.get_mut().clear();
            self.at = 0;
            match self.entries.next() {
                Some(entry) => {
                    let (kind, envelope) = entry.map_err(std::io::Error::other)?;
                    writer.write(kind, &envelope)?;
                    self.sent += 1;
                    (self.progress)(self.sent, self.total);
                }
                None => self.tail = self.writer.take().expect("present").finish()?,
            }
        }
        let pending = self.pending();
        let n = buf.len().min(pending.len() - self.at);
        buf[..n].copy_from_slice(&pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
