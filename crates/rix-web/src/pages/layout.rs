//! The frame of every page: head, skip link, navigation, language switcher, footer; and small
//! pieces several pages print (a record's row, badges, member links).

use maud::{DOCTYPE, Markup, html};
use rix_api::{RecordKind, RecordView};

use super::Ctx;
use crate::i18n::Lang;

/// A whole page.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let l = ctx.lang;
    let path = ctx.here.split('?').next().unwrap_or("/");
    let section = |href: &str| if href == "/" { path == "/" } else { path.starts_with(href) };
    html! {
        (DOCTYPE)
        html lang=(l.tag()) {
            (head(title))
            body {
                a.skip href="#main" { (l.t("skip")) }
                header.top {
                    a.brand href="/" { img src="/static/icon.svg" alt="" width="24" height="24"; span { (l.t("app")) } }
                    nav aria-label=(l.t("nav.main")) {
                        ul {
                            @for (href, key) in [("/", "nav.dashboard"), ("/records", "nav.records"), ("/stats", "nav.stats"), ("/network", "nav.network")] {
                                li { a href=(href) aria-current=[section(href).then_some("page")] { (l.t(key)) } }
                            }
                        }
                    }
                    (switcher(l, &ctx.here))
                }
                main #main { (body) }
                footer {
                    span { (l.t("footer")) }
                    " · "
                    a href="/logout" { (l.t("signout")) }
                }
            }
        }
    }
}

/// A page's `<head>`: the embedded stylesheet and icon, nothing from elsewhere.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · rix" }
            link rel="stylesheet" href="/static/app.css";
            link rel="icon" href="/static/icon.svg" type="image/svg+xml";
        }
    }
}

/// The language switcher: a form, so it works without script; the choice is kept in a cookie.
/// It comes back to `next`.
pub fn switcher(l: Lang, next: &str) -> Markup {
    html! {
        form.lang method="get" action="/lang" {
            label for="lang" { (l.t("language")) }
            select #lang name="lang" {
                @for other in Lang::ALL {
                    option value=(other.tag()) lang=(other.tag()) selected[other == l] { (other.name()) }
                }
            }
            input type="hidden" name="next" value=(next);
            button type="submit" { (l.t("apply")) }
        }
    }
}

/// A record's kind in the interface language.
pub fn kind_name(l: Lang, kind: RecordKind) -> String {
    match kind {
        RecordKind::Publication(k) => l.kind(k).to_owned(),
        RecordKind::Withdrawal => l.t("rec.withdrawal").to_owned(),
    }
}

/// Badges for a record that is not current.
pub fn state_badges(l: Lang, v: &RecordView) -> Markup {
    html! {
        @if v.withdrawn { " " span.badge.warn { (l.t("rec.withdrawn")) } }
        @if v.superseded_by.is_some() { " " span.badge { (l.t("rec.superseded")) } }
    }
}

/// A record in a list: title (in the record's language), author, kind, date, key factors.
pub fn record_item(l: Lang, v: &RecordView) -> Markup {
    html! {
        a.title href={ "/records/" (v.id) } lang=(v.language) { (v.title) }
        (state_badges(l, v))
        div.meta {
            span.member { (v.author) }
            " · " (kind_name(l, v.kind))
            " · " time datetime=(v.created_at) { (l.date(&v.created_at)) }
            @if !v.language.is_empty() { " · " span.code { (v.language) } }
        }
        @if !v.factors.is_empty() {
            ul.factors {
                @for f in &v.factors { li { a href={ "/records?factor=" (f.slug()) } { (l.factor(*f)) } } }
            }
        }
    }
}
