//! The local HTTP/JSON API the `rix` CLI uses while the daemon runs, and the web view's pages
//! (`rix_web::router`) beside it on the same address.
//!
//! Every route but `/metrics` needs `Authorization: Bearer TOKEN`, where TOKEN is the content
//! of `DATA_DIR/api.token`, written (mode 0600) at each start: whoever can read the node's data
//! directory can use the API, as with Bitcoin Core's cookie file. The routes are
//! `rix_api::routes`; queries are answered by the node's [`InProcessBackend`], the same code
//! that answers devnet and the offline CLI, so the views are the same. Errors are
//! `{"error": MESSAGE, "kind": KIND}` with the kind's status (`rix_api::ErrorKind`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rix_api::ErrorBody;
use rix_api::{Backend, ErrorKind, routes};
use rix_record::Content;
use rix_record::pack;
use rix_search::{SearchQuery, SearchResults};
use rix_store::query::{RecordFilter, RecordList, RecordView};

use crate::error::NodeError;
use crate::inprocess::InProcessBackend;
use crate::node::Node;
use rix_web::body::streamed;

/// Writes a fresh random token to `path` (mode 0600) and returns it.
pub fn write_token(path: &Path) -> Result<String, NodeError> {
    let token = hex::encode(rix_record::keys::random_seed()?);
    let io = |source| NodeError::Io { context: format!("writing the API token {}", path.display()), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(&tmp).map_err(io)?, token.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(token)
}

/// An error response: `{"error", "kind"}` with the kind's status.
pub struct ApiError(rix_api::Error);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let status = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: self.0.to_string(), kind: Some(kind) })).into_response()
    }
}

impl From<rix_api::Error> for ApiError {
    fn from(e: rix_api::Error) -> Self {
        ApiError(e)
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        ApiError(e.into())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Answers with `node`'s backend on the blocking pool: replica and index work never runs on
/// the runtime's workers.
async fn answer<T: Send + 'static>(
    node: Arc<Node>,
    work: impl FnOnce(&InProcessBackend) -> Result<T, rix_api::Error> + Send + 'static,
) -> ApiResult<T> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || work(&InProcessBackend::new(node, runtime)))
        .await
        .map_err(|e| NodeError::TaskFailed(e.to_string()))?
        .map_err(ApiError)
}

/// The API's routes.
pub fn router(node: Arc<Node>) -> Router {
    let authenticated = Router::new()
        .route(routes::HEALTH, get(health))
        .route(routes::STATUS, get(status))
        .route(routes::PEERS, get(peers))
        .route(routes::RECORDS, get(list))
        .route(&format!("{}/{{id}}", routes::RECORDS), get(show))
        .route(&format!("{}/{{prefix}}", routes::RESOLVE), get(resolve))
        .route(routes::STATS, get(stats))
        .route(routes::EXPORT, get(export_views))
        .route(routes::EXPORT_SIGNED, get(export_signed))
        .route(routes::IMPORT, post(import).layer(DefaultBodyLimit::disable()))
        .route(routes::VERIFY, get(verify))
        .route(routes::PUBLISH, post(publish))
        .route(routes::SEARCH, get(search))
        .route(routes::REINDEX, post(reindex))
        .route(&format!("{}/{{id}}", routes::HISTORY), get(history))
        .route(routes::CHARTER, get(charter))
        .route(routes::CHARTER_LOG, get(charter_log))
        .route(routes::CHARTER_PENDING, get(charter_pending))
        .route(routes::CHARTER_PROPOSE, post(charter_propose))
        .route(&format!("{}/{{prefix}}", routes::CHARTER_APPROVE), post(charter_approve))
        .route(routes::WEB_LOGIN, post(web_login))
        .route_layer(middleware::from_fn_with_state(node.clone(), authenticate));
    Router::new()
        .route(routes::METRICS, get(metrics))
        .merge(authenticated)
        .with_state(node.clone())
        .merge(rix_web::router(node.web.clone()))
}

async fn authenticate(State(node): State<Arc<Node>>, headers: HeaderMap, request: Request, next: Next) -> Response {
    let presented =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), node.token().as_bytes()) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(ErrorBody {
                error: "missing or wrong API token (it is in the node's data directory: api.token)".into(),
                kind: Some(ErrorKind::Forbidden),
            }),
        )
            .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A one-time login link to the web view (`rix web`): whoever holds the API token may open a
/// browser session.
async fn web_login(State(node): State<Arc<Node>>) -> Json<rix_api::WebLogin> {
    Json(rix_api::WebLogin { url: node.web.login_url(), expires_in: rix_web::LOGIN_TTL.as_secs() })
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], node.metrics().render())
}

/// A cheap authenticated probe: the CLI uses it to decide whether to go through the daemon.
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

async fn status(State(node): State<Arc<Node>>) -> ApiResult<Json<rix_api::StatusView>> {
    Ok(Json(node.status().await?))
}

async fn peers(State(node): State<Arc<Node>>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({ "peers": node.peers().await? })))
}

async fn list(State(node): State<Arc<Node>>, Query(filter): Query<RecordFilter>) -> ApiResult<Json<RecordList>> {
    Ok(Json(answer(node, move |b| b.list(&filter)).await?))
}

async fn show(State(node): State<Arc<Node>>, UrlPath(id): UrlPath<String>) -> ApiResult<Json<RecordView>> {
    Ok(Json(answer(node, move |b| b.show(&id)).await?))
}

async fn resolve(
    State(node): State<Arc<Node>>,
    UrlPath(prefix): UrlPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = answer(node, move |b| b.resolve(&prefix)).await?;
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn stats(State(node): State<Arc<Node>>) -> ApiResult<Json<rix_api::StatsReport>> {
    Ok(Json(answer(node, |b| b.stats()).await?))
}

/// Full views of the records the filter selects, newest first, as JSON lines
/// (`application/x-ndjson`), streamed like [`export_signed`]: a million records make over a
/// gigabyte of JSON, which the daemon once built in memory (5 GiB at its peak).
async fn export_views(State(node): State<Arc<Node>>, Query(filter): Query<RecordFilter>) -> impl IntoResponse {
    let body = streamed(move |out| {
        let backend = InProcessBackend::new(node, tokio::runtime::Handle::current());
        backend
            .export_views(&filter, &mut |view| {
                serde_json::to_writer(&mut *out, &view)?;
                out.write_all(b"\n")
            })
            .map(|_| ())
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body)
}

/// The signed pack, streamed (record-format.md §6), with the record count in
/// [`routes::EXPORT_COUNT_HEADER`] for the client's progress.
async fn export_signed(State(node): State<Arc<Node>>) -> ApiResult<impl IntoResponse> {
    let total = node.replica().len().map_err(NodeError::from)?;
    let body = streamed(move |out| {
        let backend = InProcessBackend::new(node, tokio::runtime::Handle::current());
        let written = |e| rix_api::Error::io("writing the export")(e);
        let mut pack = pack::PackWriter::new(out).map_err(written)?;
        backend.export_signed(&mut |kind, envelope, _| pack.write(kind, envelope))?;
        // Only a complete export gets its end marker; one cut by an error is refused by every
        // importer.
        pack.finish().map(drop).map_err(written)
    });
    let count = header::HeaderName::from_static(routes::EXPORT_COUNT_HEADER);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (count, total.to_string())], body))
}

/// Imports a signed export as it arrives: the body's chunks go through a channel of four to a
/// blocking task that reads the pack from them, verifies and stores in batches. A pack of any
/// size is imported in bounded memory.
async fn import(State(node): State<Arc<Node>>, body: axum::body::Body) -> ApiResult<Json<rix_api::ImportReport>> {
    use futures::StreamExt;
    let (chunks, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let forward = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            if chunks.send(chunk.map_err(std::io::Error::other)).await.is_err() {
                break;
            }
        }
    });
    let report = answer(node, move |b| b.import(&mut ChannelReader::new(receiver), 0, &mut |_, _| {})).await;
    forward.abort();
    Ok(Json(report?))
}

/// A blocking [`std::io::Read`] over chunks that arrive on a channel.
struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl ChannelReader {
    fn new(receiver: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) -> Self {
        Self { receiver, chunk: Bytes::new() }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.chunk = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

async fn verify(State(node): State<Arc<Node>>) -> ApiResult<Json<rix_api::VerifyReport>> {
    Ok(Json(answer(node, |b| b.verify(&mut |_, _| {})).await?))
}

async fn publish(State(node): State<Arc<Node>>, Json(content): Json<Content>) -> ApiResult<Json<RecordView>> {
    Ok(Json(node.publish(content).await?))
}

/// The query text of `/v1/search`; the filters are read separately because query-string
/// decoding cannot type numbers inside a `#[serde(flatten)]`ed struct (it failed on `limit`).
#[derive(serde::Deserialize)]
struct SearchText {
    text: String,
}

async fn search(
    State(node): State<Arc<Node>>,
    Query(SearchText { text }): Query<SearchText>,
    Query(filter): Query<RecordFilter>,
) -> ApiResult<Json<SearchResults>> {
    let query = SearchQuery { text, filter };
    Ok(Json(answer(node, move |b| b.search(&query)).await?))
}

async fn reindex(State(node): State<Arc<Node>>) -> ApiResult<Json<rix_api::ReindexReport>> {
    Ok(Json(answer(node, |b| b.reindex(&mut |_, _| {})).await?))
}

async fn history(State(node): State<Arc<Node>>, UrlPath(id): UrlPath<String>) -> ApiResult<Json<RecordList>> {
    Ok(Json(RecordList { records: answer(node, move |b| b.history(&id)).await? }))
}

#[derive(serde::Deserialize)]
struct VersionQuery {
    version: Option<u64>,
}

async fn charter(
    State(node): State<Arc<Node>>,
    Query(VersionQuery { version }): Query<VersionQuery>,
) -> ApiResult<Json<rix_api::CharterView>> {
    Ok(Json(answer(node, move |b| b.charter(version)).await?))
}

async fn charter_log(State(node): State<Arc<Node>>) -> ApiResult<Json<rix_api::CharterLog>> {
    Ok(Json(answer(node, |b| b.charter_log()).await?))
}

async fn charter_pending(State(node): State<Arc<Node>>) -> ApiResult<Json<rix_api::PendingProposals>> {
    Ok(Json(answer(node, |b| b.charter_pending()).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Proposal {
    changes: Vec<rix_record::amendment::Change>,
}

async fn charter_propose(
    State(node): State<Arc<Node>>,
    Json(Proposal { changes }): Json<Proposal>,
) -> ApiResult<Json<rix_api::ProposalView>> {
    Ok(Json(answer(node, move |b| b.charter_propose(changes)).await?))
}

async fn charter_approve(
    State(node): State<Arc<Node>>,
    UrlPath(prefix): UrlPath<String>,
) -> ApiResult<Json<rix_api::ProposalView>> {
    Ok(Json(answer(node, move |b| b.charter_approve(&prefix)).await?))
}
