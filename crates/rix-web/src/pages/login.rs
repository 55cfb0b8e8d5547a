//! Signing in and out, and the language choice: the only pages without a session, and none
//! shows data.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::layout::{head, switcher};

use crate::Web;
use crate::guard::{LANG_COOKIE, cookie};
use crate::i18n::Lang;
use crate::query::pairs;

/// The login page: how to get a link, and a field for the token (a GET form, so a token typed
/// by hand goes the same way as a link).
pub fn login_page(l: Lang, web: &Web, expired: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(l.tag()) {
            (head(l.t("login.title")))
            body.login {
                main #main {
                    h1 { img src="/static/icon.svg" alt="" width="32" height="32"; " " (l.t("app")) }
                    @if expired { p.error role="alert" { (l.t("login.expired")) } }
                    p { (l.t("login.text")) }
                    pre { code { "rix web --open" } }
                    form method="get" action="/login" {
                        label for="token" { (l.t("login.token")) }
                        input #token type="password" name="token" autocomplete="off" required;
                        button type="submit" { (l.t("login.submit")) }
                    }
                    (switcher(l, "/"))
                    p.hint { "http://" (web.hosts.primary()) "/" }
                }
            }
        }
    }
}

/// `GET /login?token=T`: spends a one-time token and opens a session (an HttpOnly,
/// SameSite=Strict cookie), then goes to the dashboard. A wrong, spent or expired token gets
/// the login page with 401.
pub async fn login(
    State(web): State<Arc<Web>>,
    lang: Option<axum::Extension<Lang>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let lang = lang.map_or(Lang::En, |l| l.0);
    let token = pairs(raw.as_deref()).into_iter().find(|(k, _)| k == "token").map(|(_, v)| v);
    let Some(token) = token else {
        return super::html(StatusCode::UNAUTHORIZED, login_page(lang, &web, false));
    };
    match web.sessions.log_in(token.trim(), Instant::now()) {
        Some(session) => {
            let cookie = format!("{}={session}; HttpOnly; SameSite=Strict; Path=/", web.hosts.cookie_name());
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        None => super::html(StatusCode::UNAUTHORIZED, login_page(lang, &web, true)),
    }
}

/// `GET /logout`: ends the session.
pub async fn logout(State(web): State<Arc<Web>>, headers: axum::http::HeaderMap) -> Response {
    let name = web.hosts.cookie_name();
    if let Some(session) = cookie(&headers, &name) {
        web.sessions.log_out(session);
    }
    let expire = format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&expire) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /lang?lang=ru&next=/records`: remembers the language (a cookie for a year) and goes
/// back to the page. `next` must be a path on this node.
pub async fn set_language(RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // A path of this node, as the browser sent it (percent-encoded, so plain ASCII).
    let local =
        |n: &&str| n.starts_with('/') && !n.starts_with("//") && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let next = get("next").filter(local).unwrap_or("/").to_owned();
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
    if let Some(lang) = get("lang").and_then(Lang::from_tag) {
        let cookie = format!("{LANG_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000", lang.tag());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}
