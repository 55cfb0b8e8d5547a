//! The analyst's web view: server-rendered HTML pages over a node's replica, served by the
//! daemon on its API address. Read-only: no page changes the replica or the charter.
//!
//! Owns the pages, their languages, the login sessions and the checks every request passes
//! (`guard`). It asks the node everything through the [`Backend`] trait of `rix-api`, the
//! same contract the CLI uses, so a page shows what `rix list`, `rix show` or `rix stats`
//! would; downloads go through `rix-export`, the CLI's exporters. Every asset is compiled into
//! the binary; the pages load nothing from elsewhere and run no script.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use rix_api::{Backend, StatsReport};

pub mod body;
mod guard;
mod i18n;
mod pages;
mod query;
mod session;
mod svg;

pub use guard::Hosts;
pub use i18n::Lang;
use pages::PageError;
pub use session::{LOGIN_TTL, Sessions};

/// Opens a backend on the node: called on the blocking pool for each question a page asks.
pub type OpenBackend = Arc<dyn Fn() -> Result<Box<dyn Backend>, rix_api::Error> + Send + Sync>;

/// How long computed statistics are shown, if the replica's record count has not changed,
/// before they are recomputed.
pub const STATS_MAX_AGE: Duration = Duration::from_secs(30);

/// Up to this many records, changed statistics are recomputed before the page is answered;
/// above, in the background (the page says when they were computed). On 100,000 records they
/// take about half a second, which no page should wait for.
pub const STATS_COMPUTED_INLINE: u64 = 20_000;

/// The web view of one node.
pub struct Web {
    sessions: Sessions,
    hosts: Hosts,
    open: OpenBackend,
    stats: StatsCache,
}

impl Web {
    /// The web view answering as `hosts` (the first is the address printed in login URLs),
    /// asking `open`'s backends.
    pub fn new(open: OpenBackend, hosts: Hosts) -> Arc<Self> {
        Arc::new(Self { sessions: Sessions::default(), hosts, open, stats: StatsCache::default() })
    }

    /// A one-time login URL, valid for [`LOGIN_TTL`].
    pub fn login_url(&self) -> String {
        let token = self.sessions.issue_login(Instant::now());
        format!("http://{}/login?token={token}", self.hosts.primary())
    }

    /// Computes the statistics in the background, so that the first page to show them does not
    /// wait (the daemon calls it at start).
    pub fn warm(self: &Arc<Self>) {
        let web = self.clone();
        tokio::spawn(async move {
            if web.stats.get().is_none()
                && let Ok(held) = web.held().await
            {
                let _ = web.stats(held).await;
            }
        });
    }

    /// How many records the replica holds (its status reads the chain index only).
    async fn held(&self) -> Result<u64, PageError> {
        self.ask(|b| Ok(b.status()?.records)).await
    }

    /// Runs `work` with a backend on the blocking pool.
    async fn ask<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Backend) -> Result<T, rix_api::Error> + Send + 'static,
    ) -> Result<T, PageError> {
        let open = self.open.clone();
        Ok(tokio::task::spawn_blocking(move || work(&*open()?)).await.map_err(PageError::Worker)??)
    }

    /// The statistics, with the instant they were computed. They are recomputed when the
    /// replica has changed since: at once on a replica of up to [`STATS_COMPUTED_INLINE`]
    /// records (tens of milliseconds), else in the background while the last report is shown,
    /// so that it is at most a computation (and [`STATS_MAX_AGE`]) behind.
    /// `held` is the replica's record count now (the dashboard has it from its status; other
    /// callers ask [`Web::held`]).
    async fn stats(self: &Arc<Self>, held: u64) -> Result<(Arc<StatsReport>, rix_api::record::Timestamp), PageError> {
        match self.stats.get() {
            Some((report, at, age)) if report.records_stored == held && age < STATS_MAX_AGE => Ok((report, at)),
            Some((report, at, _)) if held > STATS_COMPUTED_INLINE => {
                if !self.stats.refreshing.swap(true, Ordering::AcqRel) {
                    let web = self.clone();
                    tokio::spawn(async move {
                        if let Ok(report) = web.ask(|b| b.stats()).await {
                            web.stats.put(report);
                        }
                        web.stats.refreshing.store(false, Ordering::Release);
                    });
                }
                Ok((report, at))
            }
            _ => {
                let report = self.ask(|b| b.stats()).await?;
                Ok(self.stats.put(report))
            }
        }
    }
}

/// The last statistics computed.
#[derive(Default)]
struct StatsCache {
    report: std::sync::Mutex<Option<(Arc<StatsReport>, rix_api::record::Timestamp, Instant)>>,
    refreshing: AtomicBool,
}

impl StatsCache {
    fn get(&self) -> Option<(Arc<StatsReport>, rix_api::record::Timestamp, Duration)> {
        let guard = self.report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().map(|(r, at, when)| (r.clone(), *at, when.elapsed()))
    }

    fn put(&self, report: StatsReport) -> (Arc<StatsReport>, rix_api::record::Timestamp) {
        let report = Arc::new(report);
        let at = rix_api::record::Timestamp::now();
        *self.report.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((report.clone(), at, Instant::now()));
        (report, at)
    }
}

/// The web view's routes, to be merged with the API's: every page, the login, and the
/// embedded assets. Only `GET` (and `HEAD`) are routed: any other method gets 405 and no
/// data.
pub fn router(web: Arc<Web>) -> Router {
    let pages = Router::new()
        .route("/", get(pages::dashboard::page))
        .route("/records", get(pages::records::page))
        .route("/records/{id}", get(pages::record::page))
        .route("/compare", get(pages::record::compare))
        .route("/stats", get(pages::stats::page))
        .route("/network", get(pages::network::page))
        .route("/download", get(pages::records::download))
        .route("/logout", get(pages::login::logout))
        .route_layer(axum::middleware::from_fn_with_state(web.clone(), guard::session));
    Router::new()
        .route("/login", get(pages::login::login))
        .route("/lang", get(pages::login::set_language))
        .route("/static/{file}", get(pages::assets))
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(web.clone(), guard::request))
        .with_state(web)
}
