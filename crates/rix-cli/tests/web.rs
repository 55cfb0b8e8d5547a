//! The analysts' web view in a real browser (headless Chromium through ChromeDriver) against a
//! real daemon holding records by three members: sign in with `rix web`'s one-time link,
//! filter, search in Chinese and in Russian, switch the language, open a record, compare two,
//! download a CSV (byte for byte what `rix export` writes), move with the keyboard; and no
//! data without a session, under a foreign Host name, or for a POST.
//!
//! Set `RIX_WEB_SCREENSHOTS=DIR` to also save screenshots of the main pages there
//! (`scripts/web-screenshots.sh` makes the ones in `docs/web/`).

use std::time::Duration;

use rix_tests::browser::{Browser, raw_request, ready_or_skip};
use rix_tests::{Rix, TestNet, sample_files, wait_for};

fn rix() -> Rix {
    Rix::new(env!("CARGO_BIN_EXE_rix"))
}

/// KZ's node holding the sample records of KZ, CN and RU (each signed by its author's node and
/// carried over in a signed pack), with its daemon running.
fn replica_of_three(rix: &Rix) -> (TestNet, rix_tests::Daemon, usize) {
    let net = TestNet::init(rix, &["KZ", "CN", "RU"]);
    let kz = net.node("KZ");
    let mut total = 0;
    for member in ["KZ", "CN", "RU"] {
        let node = net.node(member);
        for file in sample_files(member) {
            rix.ok(&["--config", node.config_arg(), "publish", file.to_str().unwrap()]);
            total += 1;
        }
        if member != "KZ" {
            let pack = net.root.path().join(format!("{member}.rixpack"));
            rix.ok(&["--config", node.config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);
            rix.ok(&["--config", kz.config_arg(), "import", pack.to_str().unwrap()]);
        }
    }
    let daemon = rix.spawn_daemon(kz);
    wait_for(Duration::from_secs(20), "the daemon answers", || {
        rix.json(&["--config", kz.config_arg(), "status"])["daemon_running"] == true
    });
    (net, daemon, total)
}

#[test]
fn an_analyst_signs_in_filters_searches_compares_and_downloads_in_a_real_browser() {
    let Some((chromium, chromedriver)) = ready_or_skip("web view in a browser") else { return };
    let rix = rix();
    let (net, daemon, total) = replica_of_three(&rix);
    let kz = net.node("KZ");
    let origin = format!("http://127.0.0.1:{}", kz.api_port);
    let downloads = net.root.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let shots = std::env::var_os("RIX_WEB_SCREENSHOTS").map(std::path::PathBuf::from);
    let browser = Browser::start(&chromium, &chromedriver, &downloads, "en-GB");
    let shot = |name: &str, height: u32| {
        if let Some(dir) = &shots {
            browser.screenshot(&dir.join(format!("{name}.png")), 1280, height);
        }
    };

    // Without a session: the login page, no data.
    browser.goto(&format!("{origin}/records"));
    assert!(browser.source().contains("rix web --open"));
    assert!(browser.all("ol.records > li").is_empty());
    shot("login", 700);

    // The one-time link signs in and lands on the dashboard.
    let login = rix.json(&["--config", kz.config_arg(), "web"]);
    let url = login["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{origin}/login?token=")), "{url}");
    assert_eq!(login["expires_in"], 600);
    browser.goto(&url);
    assert_eq!(browser.url(), format!("{origin}/"));
    assert_eq!(browser.find("#records-held").text(), total.to_string());
    assert_eq!(browser.all("ol.records > li").len(), 10, "the ten newest records");
    let cookies = browser.cookies();
    let session = cookies.as_array().unwrap().iter().find(|c| c["name"] == format!("rix_session_{}", kz.api_port));
    let session = session.expect("a session cookie");
    assert_eq!((session["httpOnly"].as_bool(), session["sameSite"].as_str()), (Some(true), Some("Strict")));
    let cookie = format!("rix_session_{}={}", kz.api_port, session["value"].as_str().unwrap());
    shot("dashboard", 1400);

    // The link is spent: a second use (another browser, someone reading the terminal) fails.
    let (status, body) = raw_request(&kz_addr(kz.api_port), "GET", &url[origin.len()..], &kz_addr(kz.api_port), None);
    assert_eq!(status, 401);
    assert!(body.contains("already used or has expired"), "{body}");

    // Filters: CN's records only.
    browser.goto(&format!("{origin}/records"));
    let listed = |filter: &[&str]| {
        let mut args = vec!["--config", kz.config_arg(), "list"];
        args.extend_from_slice(filter);
        rix.json(&args)["records"].as_array().unwrap().len()
    };
    assert_eq!(browser.all("ol.records > li").len(), listed(&[]).min(25));
    browser.find("#member option[value=CN]").click();
    browser.click_to("#apply", "member=CN", "ol.records");
    let cn = listed(&["--member", "CN"]);
    assert_eq!(browser.all("ol.records > li").len(), cn);
    assert!(browser.all("ol.records .member").iter().all(|m| m.text() == "CN"));

    // Search in Chinese (no spaces between words): 廉政风险 is in several CN records; the
    // filter form keeps the member, and the matches are marked.
    browser.find("#q").type_text("廉政风险");
    browser.click_to("#apply", "q=", "ol.records");
    let hits = browser.all("ol.records > li");
    assert!(!hits.is_empty() && hits.len() <= cn, "{} hits", hits.len());
    let marks: Vec<String> = browser.all("p.snippet mark").iter().map(|m| m.text()).collect();
    assert!(marks.iter().any(|m| m.contains("廉政") || m.contains("风险")), "{marks:?}");
    shot("search-zh", 900);

    // Search in Russian with stemming: the genitive finds KZ's record tagged «видеонаблюдение».
    browser.goto(&format!(
        "{origin}/records?q=%D0%B2%D0%B8%D0%B4%D0%B5%D0%BE%D0%BD%D0%B0%D0%B1%D0%BB%D1%8E%D0%B4%D0%B5%D0%BD%D0%B8%D1%8F"
    ));
    let titles: Vec<String> = browser.all("ol.records a.title").iter().map(|a| a.text()).collect();
    assert!(!titles.is_empty(), "no hit for видеонаблюдения");
    assert!(browser.all("ol.records .member").iter().any(|m| m.text() == "KZ"));

    // The interface in Russian, remembered across pages; numbers and dates follow it.
    browser.goto(&format!("{origin}/records"));
    browser.find("#lang option[value=ru]").click();
    browser.find("form.lang button").click();
    browser.wait("the page in Russian", |b| Ok(b.try_text("header nav a[aria-current=page]")? == "Записи"));
    assert_eq!(browser.find("html").attribute("lang").as_deref(), Some("ru"));
    browser.goto(&format!("{origin}/stats"));
    assert_eq!(browser.find("header nav a[aria-current=page]").text(), "Статистика");
    assert!(browser.source().contains("Охват: участники × ключевые факторы"));
    let cells = browser.all("svg.heatmap rect");
    assert_eq!(cells.len(), 3 * 10, "three members × ten key factors");
    assert!(!browser.all("svg.heatmap rect.gap").is_empty(), "gaps are drawn");
    shot("stats-ru", 1500);
    browser.goto(&format!("{origin}/network"));
    assert_eq!(browser.find("#charter-version").text(), "v1");
    shot("network-ru", 1400);

    // A record page: rendered Markdown, the signature, the other members on the same factors.
    browser.goto(&format!("{origin}/lang?lang=en&next=/records%3Fmember%3DCN"));
    let title = browser.find("ol.records a.title").text();
    browser.click_to("ol.records a.title", "/records/", "article h1");
    assert_eq!(browser.find("article h1").text().trim(), title.trim());
    assert!(browser.source().contains("verified with the key the author held"));
    assert!(!browser.all("article section.body h4, article section.body p").is_empty(), "the body is rendered");
    shot("record", 1400);

    // Compare two records side by side.
    // (two members' texts on one key factor, the comparison an analyst would make)
    browser.goto(&format!("{origin}/records?factor=code-of-conduct"));
    let boxes = browser.all("input.pick");
    assert!(boxes.len() >= 2, "{} records on the code of conduct", boxes.len());
    boxes[0].click();
    boxes[1].click();
    browser.click_to("#compare", "/compare?id=", "table.compare");
    assert_eq!(browser.all("table.compare thead th").len(), 3, "a label column and two records");
    shot("compare", 1100);

    // Download the current selection as CSV: byte for byte what `rix export` gives.
    browser.goto(&format!("{origin}/records?member=RU"));
    browser.find(".downloads a[href$='format=csv']").click();
    let file = browser.downloaded(".csv");
    let downloaded = std::fs::read(&file).unwrap();
    let cli = rix.ok(&["--config", kz.config_arg(), "export", "--format", "csv", "--bom", "--member", "RU"]);
    assert_eq!(String::from_utf8(downloaded).unwrap(), cli);
    assert_eq!(csv_rows(&cli), listed(&["--member", "RU"]));

    // The keyboard reaches the skip link first, and it leads to the content.
    browser.goto(&format!("{origin}/records"));
    let focused = browser.tab(1);
    assert!(focused.contains("Skip to content"), "Tab focused {focused:?}");
    browser.enter();
    browser.wait("the skip link to lead to the content", |b| Ok(b.url().ends_with("#main")));

    // No data without a session, under a foreign name (DNS rebinding), or for a POST.
    let addr = kz_addr(kz.api_port);
    let some_title = &title;
    for (method, host, cookie, expected) in [
        ("GET", addr.as_str(), None, 401),
        ("GET", "evil.example", Some(cookie.as_str()), 421),
        ("GET", &format!("evil.example:{}", kz.api_port), Some(cookie.as_str()), 421),
        ("POST", addr.as_str(), Some(cookie.as_str()), 405),
        ("DELETE", addr.as_str(), Some(cookie.as_str()), 405),
    ] {
        for path in ["/", "/records", "/records?member=CN", "/stats", "/network", "/download?format=json"] {
            let (status, body) = raw_request(&addr, method, path, host, cookie);
            assert_eq!(status, expected, "{method} {path} as {host}");
            assert!(
                !body.contains(some_title.as_str()) && !body.contains("\"records\""),
                "{method} {path}: data leaked"
            );
        }
    }
    // The same session works as itself, and every answer carries the policy.
    let (status, body) = raw_request(&addr, "GET", "/records?member=CN", &addr, Some(&cookie));
    assert_eq!(status, 200);
    assert!(body.contains(some_title.as_str()));
    let csp = rix_tests::http_get(&format!("{origin}/login"));
    assert!(csp.to_lowercase().contains("content-security-policy: default-src 'none'"), "{csp}");

    // Signing out ends the session.
    browser.goto(&format!("{origin}/logout"));
    let (status, _) = raw_request(&addr, "GET", "/", &addr, Some(&cookie));
    assert_eq!(status, 401);
    drop(browser);
    daemon.stop_cleanly();
}

fn kz_addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Data rows of a CSV export (records whose bodies span lines count once).
fn csv_rows(text: &str) -> usize {
    let mut rows = 0;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => rows += 1,
            _ => {}
        }
    }
    rows - 1
}
