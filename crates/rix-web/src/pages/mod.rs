//! The pages. Each handler asks the node through [`crate::Web::ask`] and renders with maud,
//! which escapes every value it prints: record text comes from other administrations and is
//! never trusted as markup (rendered Markdown goes through `rix_export::markdown_html`, which
//! shows raw HTML as text).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::Markup;

use crate::i18n::Lang;

pub mod dashboard;
pub mod layout;
pub mod login;
pub mod network;
pub mod record;
pub mod records;
pub mod stats;

/// Why a page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The node refused or failed (not found, an ambiguous prefix, storage).
    #[error(transparent)]
    Node(#[from] rix_api::Error),
    /// A query parameter is malformed; the message names it.
    #[error("{0}")]
    BadRequest(String),
    /// A worker on the blocking pool failed.
    #[error("a web worker failed: {0}")]
    Worker(tokio::task::JoinError),
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::Node(e) => StatusCode::from_u16(e.kind().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Worker(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What every page knows about its request: the language and its own address (for the
/// language switcher, which comes back to the same page).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The interface language.
    pub lang: Lang,
    /// The path and query of this request.
    pub here: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or(Lang::En);
        // The web routes are not nested, so the URI is the one the browser asked for.
        let here = parts.uri.path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Ctx { lang, here })
    }
}

impl Ctx {
    /// The page, or an error page saying what went wrong, with the error's status.
    pub fn respond(&self, title: &str, body: Result<Markup, PageError>) -> Response {
        match body {
            Ok(body) => html(StatusCode::OK, layout::page(self, title, body)),
            Err(e) => {
                let l = self.lang;
                let body = maud::html! {
                    h1 { (l.t("err.title")) }
                    p.error role="alert" { (e.to_string()) }
                    p { a href="/records" { (l.t("err.back")) } }
                };
                html(e.status(), layout::page(self, l.t("err.title"), body))
            }
        }
    }
}

/// An HTML answer.
pub fn html(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// The stylesheet and icon, compiled in.
const CSS: &str = include_str!("../../assets/app.css");
const ICON: &str = include_str!("../../assets/icon.svg");

/// `GET /static/FILE`: the embedded assets, cacheable for a day.
pub async fn assets(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, media) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    ([(header::CONTENT_TYPE, media), (header::CACHE_CONTROL, "max-age=86400")], body).into_response()
}
