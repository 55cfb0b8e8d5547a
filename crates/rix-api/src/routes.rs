//! The daemon's HTTP routes, shared by the server (`rix-node`'s `api`) and [`crate::client`].
//! Every route but [`METRICS`] needs `Authorization: Bearer TOKEN`; `docs/cli.md` describes
//! each. The web view's pages (`/`, `/records`, ... in `rix-web`) are outside `/v1` and use
//! a session cookie instead; `docs/web.md` describes them.

/// `GET`: a cheap authenticated probe.
pub const HEALTH: &str = "/v1/health";
/// `GET`: [`crate::StatusView`].
pub const STATUS: &str = "/v1/status";
/// `GET`: `{"peers": [PeerView...]}`.
pub const PEERS: &str = "/v1/peers";
/// `GET ?FILTER`: [`crate::RecordList`]; `GET /v1/records/ID`: one [`crate::RecordView`] in full.
pub const RECORDS: &str = "/v1/records";
/// `GET /v1/resolve/PREFIX`: `{"id": ID}`.
pub const RESOLVE: &str = "/v1/resolve";
/// `GET`: [`crate::StatsReport`].
pub const STATS: &str = "/v1/stats";
/// `GET ?FILTER`: full views as JSON lines.
pub const EXPORT: &str = "/v1/export";
/// `GET`: the signed pack, streamed, with its record count in [`EXPORT_COUNT_HEADER`].
pub const EXPORT_SIGNED: &str = "/v1/export/signed";
/// `POST` a signed pack: [`crate::ImportReport`].
pub const IMPORT: &str = "/v1/import";
/// `GET`: [`crate::VerifyReport`].
pub const VERIFY: &str = "/v1/verify";
/// `POST` a record's content (JSON): the stored [`crate::RecordView`].
pub const PUBLISH: &str = "/v1/publish";
/// `GET ?text=...&FILTER`: [`crate::SearchResults`].
pub const SEARCH: &str = "/v1/search";
/// `POST`: [`crate::ReindexReport`].
pub const REINDEX: &str = "/v1/reindex";
/// `GET /v1/history/ID`: [`crate::RecordList`], oldest first.
pub const HISTORY: &str = "/v1/history";
/// `GET [?version=N]`: [`crate::CharterView`].
pub const CHARTER: &str = "/v1/charter";
/// `GET`: [`crate::CharterLog`].
pub const CHARTER_LOG: &str = "/v1/charter/log";
/// `GET`: [`crate::PendingProposals`].
pub const CHARTER_PENDING: &str = "/v1/charter/pending";
/// `POST {"changes": [CHANGE...]}`: the new [`crate::ProposalView`].
pub const CHARTER_PROPOSE: &str = "/v1/charter/propose";
/// `POST /v1/charter/approve/PREFIX`: the approved [`crate::ProposalView`].
pub const CHARTER_APPROVE: &str = "/v1/charter/approve";
/// `POST`: a one-time login link to the web view, [`crate::WebLogin`].
pub const WEB_LOGIN: &str = "/v1/web/login";
/// `GET`, no token: OpenMetrics text.
pub const METRICS: &str = "/metrics";

/// Response header of [`EXPORT_SIGNED`]: how many records the pack will hold (for progress).
pub const EXPORT_COUNT_HEADER: &str = "x-rix-records";
