//! A real browser for tests of the web view: headless Chromium driven through ChromeDriver's
//! W3C WebDriver protocol (plain HTTP and JSON, so no client library). Debian's `chromium` and
//! `chromium-driver` packages provide both; `.ci/run` installs them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The WebDriver element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Chromium and ChromeDriver are, if both are installed: `Err` says why not.
pub fn available() -> Result<(PathBuf, PathBuf), String> {
    let find = |names: &[&str]| {
        names.iter().map(PathBuf::from).find(|p| p.is_file()).or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
        })
    };
    let browser = find(&["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"])
        .ok_or("Chromium is not installed (Debian: apt-get install chromium chromium-driver)")?;
    let driver = find(&["/usr/bin/chromedriver", "chromedriver"])
        .ok_or("ChromeDriver is not installed (Debian: apt-get install chromium-driver)")?;
    Ok((browser, driver))
}

/// Returns the browser's paths when the test may run; otherwise prints why it skips (or
/// panics, when `RIX_REQUIRE_BROWSER` is set, as CI sets it once it has installed Chromium).
pub fn ready_or_skip(test: &str) -> Option<(PathBuf, PathBuf)> {
    match available() {
        Ok(found) => Some(found),
        Err(why) if std::env::var_os("RIX_REQUIRE_BROWSER").is_some() => {
            panic!("{test}: RIX_REQUIRE_BROWSER is set but {why}")
        }
        Err(why) => {
            eprintln!("skipped {test}: {why}");
            None
        }
    }
}

/// A headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    /// Where downloads land.
    pub downloads: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium window of 1280×1000 that saves downloads
    /// in `downloads`, with `lang` as its preferred language.
    pub fn start(browser: &Path, driver: &Path, downloads: &Path, lang: &str) -> Self {
        let port = crate::free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        crate::wait_for(Duration::from_secs(20), "chromedriver answers", || {
            agent.get(format!("{base}/status")).call().is_ok_and(|r| r.status().is_success())
        });
        let mut me = Self { driver, base, session: String::new(), agent, downloads: downloads.to_owned() };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", format!("--lang={lang}")],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "intl.accept_languages": lang,
                },
            },
        }}});
        let answer = me.call("POST", "/session", Some(capabilities));
        me.session = answer["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_owned();
        me
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A WebDriver command, or the error it got (a stale element while a page loads, say).
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut response = response.map_err(|e| format!("webdriver {method} {path}: {e}"))?;
        let status = response.status();
        let text = response.body_mut().with_config().limit(64 << 20).read_to_string().map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(&text).map_err(|e| format!("webdriver {path}: {e}: {text}"))?;
        if !status.is_success() {
            return Err(format!("webdriver {method} {path}: {status}: {}", value["value"]["message"]));
        }
        Ok(value["value"].clone())
    }

    /// The text of the first element matching `css`, or why there is none yet.
    pub fn try_text(&self, css: &str) -> Result<String, String> {
        let found = self.try_call(
            "POST",
            &format!("/session/{}/element", self.session),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        let id = found[ELEMENT].as_str().ok_or("no element id")?;
        let text = self.try_call("GET", &format!("/session/{}/element/{id}/text", self.session), None)?;
        Ok(text.as_str().unwrap_or("").to_owned())
    }

    /// Waits (up to 15 s) until `ready` holds: after a click that loads a page, WebDriver may
    /// answer before the new page is there. Errors (an element gone stale as the old page goes)
    /// count as not ready yet.
    pub fn wait(&self, what: &str, mut ready: impl FnMut(&Browser) -> Result<bool, String>) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let last = ready(self);
            if last == Ok(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} on {}: {last:?}", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks the first element matching `css`, then waits until the page's URL contains
    /// `until` and its `marker` element is present: for links and buttons that load a page.
    pub fn click_to(&self, css: &str, until: &str, marker: &str) {
        let before = self.url();
        self.find(css).click();
        self.wait(&format!("{until} after clicking {css}"), |b| {
            let url = b.try_call("GET", &format!("/session/{}/url", b.session), None)?;
            let url = url.as_str().unwrap_or("");
            Ok(url.contains(until) && (url != before || until.is_empty()) && b.try_text(marker).is_ok())
        });
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None).as_str().expect("a URL").to_owned()
    }

    /// The page's HTML as the browser holds it.
    pub fn source(&self) -> String {
        self.session_call("GET", "/source", None).as_str().expect("source").to_owned()
    }

    /// The elements matching a CSS selector.
    pub fn all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.session_call("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        found
            .as_array()
            .expect("a list")
            .iter()
            .map(|e| Element {
                browser: self,
                id: e[ELEMENT].as_str().unwrap_or_else(|| panic!("element id in {e}")).to_owned(),
            })
            .collect()
    }

    /// The one element matching a CSS selector (the first, if several do).
    pub fn find(&self, css: &str) -> Element<'_> {
        self.all(css).into_iter().next().unwrap_or_else(|| panic!("no element matches {css:?} on {}", self.url()))
    }

    /// Presses Tab `n` times in the page (keyboard navigation) and returns the focused
    /// element's text.
    pub fn tab(&self, n: usize) -> String {
        let keys: Vec<Value> = (0..n)
            .flat_map(|_| {
                [json!({"type": "keyDown", "value": "\u{E004}"}), json!({"type": "keyUp", "value": "\u{E004}"})]
            })
            .collect();
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]})),
        );
        let active = self.session_call("GET", "/element/active", None);
        Element { browser: self, id: active[ELEMENT].as_str().expect("element id").to_owned() }.text()
    }

    /// Presses Enter on the focused element.
    pub fn enter(&self) {
        let keys = [json!({"type": "keyDown", "value": "\u{E007}"}), json!({"type": "keyUp", "value": "\u{E007}"})];
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]})),
        );
    }

    /// The value of cookie `name`, as the browser holds it (HttpOnly ones included).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.session_call("GET", "/cookie", None);
        cookies.as_array()?.iter().find(|c| c["name"] == name).and_then(|c| c["value"].as_str()).map(str::to_owned)
    }

    /// All cookies, as WebDriver reports them.
    pub fn cookies(&self) -> Value {
        self.session_call("GET", "/cookie", None)
    }

    /// A PNG screenshot of the viewport, resized first to `width`×`height`.
    pub fn screenshot(&self, path: &Path, width: u32, height: u32) {
        self.session_call("POST", "/window/rect", Some(json!({"width": width, "height": height})));
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64_decode(data.as_str().expect("base64"));
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Waits for a file whose name ends with `suffix` to be completely downloaded.
    pub fn downloaded(&self, suffix: &str) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done = std::fs::read_dir(&self.downloads)
                .expect("downloads dir")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.to_string_lossy().ends_with(suffix));
            if let Some(done) = done {
                return done;
            }
            assert!(Instant::now() < deadline, "no *{suffix} download in {}", self.downloads.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An element of the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    /// Its visible text.
    pub fn text(&self) -> String {
        self.browser.session_call("GET", &format!("/element/{}/text", self.id), None).as_str().unwrap_or("").to_owned()
    }

    /// The value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<String> {
        self.browser
            .session_call("GET", &format!("/element/{}/attribute/{name}", self.id), None)
            .as_str()
            .map(str::to_owned)
    }

    /// Clicks it (and, for a link or a submit button, waits for the next page).
    pub fn click(&self) {
        self.browser.session_call("POST", &format!("/element/{}/click", self.id), None);
    }

    /// Types `text` into it, after clearing it.
    pub fn type_text(&self, text: &str) {
        self.browser.session_call("POST", &format!("/element/{}/clear", self.id), None);
        self.browser.session_call("POST", &format!("/element/{}/value", self.id), Some(json!({ "text": text })));
    }
}

/// Standard base64, as WebDriver encodes screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|c| u32::from(value(*c))).collect();
        let n = v.iter().enumerate().fold(0u32, |acc, (i, x)| acc | (x << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A raw HTTP/1.1 request over TCP, so that the test controls every header (a browser would
/// not send a foreign `Host`): `(status, body)`.
pub fn raw_request(addr: &str, method: &str, path: &str, host: &str, cookie: Option<&str>) -> (u16, String) {
    let (status, _, body) = raw_response(addr, method, path, host, cookie);
    (status, body)
}

/// Like [`raw_request`], with the response's head: `(status, head, body)`.
pub fn raw_response(addr: &str, method: &str, path: &str, host: &str, cookie: Option<&str>) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_owned(), body.to_owned())
}

/// The `dur` of a response head's `Server-Timing` header, milliseconds.
pub fn server_timing(head: &str) -> Option<f64> {
    head.lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("server-timing:").map(str::to_owned))
        .and_then(|v| v.split("dur=").nth(1).and_then(|d| d.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes() {
        assert_eq!(super::base64_decode("aGVsbG8gd29ybGQ="), b"hello world");
        assert_eq!(super::base64_decode("YQ=="), b"a");
    }
}
