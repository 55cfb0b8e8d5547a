//! What every request to the web view passes before a page is made: the Host check (against
//! DNS rebinding), the session check (no data without a session), the interface language, and
//! the security headers on every answer (a Content-Security-Policy that forbids anything from
//! elsewhere and any script).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Web;
use crate::i18n::Lang;

/// Nothing from elsewhere, no script at all, no framing, forms only to this node.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                       base-uri 'none'; frame-ancestors 'none'";

/// The `Host` header values the node answers to: its API address as configured (and as
/// `localhost:PORT` when that is a loopback address), plus any names the operator lists
/// (`api.hosts`, for a reverse proxy). A page requested under any other name is refused: a
/// hostile web site that rebinds its own name to 127.0.0.1 gets nothing.
#[derive(Debug, Clone)]
pub struct Hosts(Vec<String>);

impl Hosts {
    /// The names for an API bound to `addr`, then `extra`.
    pub fn new(addr: std::net::SocketAddr, extra: &[String]) -> Self {
        let mut names = vec![addr.to_string()];
        if addr.ip().is_loopback() {
            names.push(format!("localhost:{}", addr.port()));
        }
        names.extend(extra.iter().cloned());
        Self(names.into_iter().map(|n| n.to_ascii_lowercase()).collect())
    }

    /// The address login URLs name.
    pub fn primary(&self) -> &str {
        &self.0[0]
    }

    /// Whether `host` (a `Host` header's value) is one of them.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.0.contains(&host)
    }

    /// The port of the primary address, which names the session cookie: browsers share
    /// cookies between the ports of one host, and devnet runs nine nodes on 127.0.0.1.
    pub fn cookie_name(&self) -> String {
        let port = self.0[0].rsplit(':').next().unwrap_or("");
        format!("{}_{port}", crate::session::COOKIE)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The language cookie, shared by every node on a host.
pub const LANG_COOKIE: &str = "rix_lang";

/// Every request: Host check, language, security headers.
pub async fn request(State(web): State<Arc<Web>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let mut response = if !web.hosts.allows(host) {
        // Plain text, no page: whoever asks under a foreign name is not a reader of this node.
        (
            StatusCode::MISDIRECTED_REQUEST,
            format!("this node's web view answers only as http://{}/\n", web.hosts.primary()),
        )
            .into_response()
    } else {
        let lang = language(request.headers());
        request.extensions_mut().insert(lang);
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // The login URL carries a token: no page may pass its address on.
        (header::REFERRER_POLICY, "no-referrer"),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    // How long the page took at the server (until its head; a download streams after), for
    // the browser's developer tools and the web benchmark.
    let took = format!("page;dur={:.2}", started.elapsed().as_secs_f64() * 1000.0);
    if let Ok(value) = HeaderValue::from_str(&took) {
        headers.insert(header::HeaderName::from_static("server-timing"), value);
    }
    response
}

/// The interface language: the `rix_lang` cookie, else the browser's `Accept-Language`, else
/// English.
fn language(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::from_tag)
        .or_else(|| {
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// Pages with data: a session, or 401 with the login page.
pub async fn session(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let open = cookie(request.headers(), &web.hosts.cookie_name())
        .is_some_and(|session| web.sessions.check(session, Instant::now()));
    if open {
        return next.run(request).await;
    }
    let lang = request.extensions().get::<Lang>().copied().unwrap_or(Lang::En);
    crate::pages::html(StatusCode::UNAUTHORIZED, crate::pages::login::login_page(lang, &web, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_names_are_answered() {
        let hosts = Hosts::new("127.0.0.1:4803".parse().unwrap(), &["rix.customs.example".into()]);
        for ok in ["127.0.0.1:4803", "localhost:4803", "LOCALHOST:4803", "rix.customs.example"] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in ["", "evil.example", "evil.example:4803", "127.0.0.1", "127.0.0.1:4804", "localhost"] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        assert_eq!(hosts.cookie_name(), "rix_session_4803");
        let remote = Hosts::new("10.0.0.5:7401".parse().unwrap(), &[]);
        assert!(!remote.allows("localhost:7401"));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; rix_session_4803=abc".parse().unwrap());
        headers.append(header::COOKIE, "rix_lang=ru".parse().unwrap());
        assert_eq!(cookie(&headers, "rix_session_4803"), Some("abc"));
        assert_eq!(cookie(&headers, "rix_session_4804"), None);
        assert_eq!(language(&headers), Lang::Ru);
    }
}
