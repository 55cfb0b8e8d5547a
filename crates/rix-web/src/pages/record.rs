//! `/records/ID`: one record in full (rendered Markdown, the kind's details, author and
//! signature, versions and withdrawal, related records, other members' records on the same key
//! factors); and `/compare?id=A&id=B...`: records side by side.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use rix_api::{RecordFilter, RecordView};

use super::layout::{kind_name, record_item, state_badges};
use super::{Ctx, PageError};
use crate::Web;
use crate::i18n::Lang;
use crate::query::pairs;

/// Other members' records shown per key factor of the record.
const OTHERS_PER_FACTOR: usize = 4;
/// At most this many records side by side.
pub const MAX_COMPARED: usize = 4;

/// Everything the record page shows.
struct RecordPage {
    record: RecordView,
    versions: Vec<RecordView>,
    related: Vec<RecordView>,
    others: Vec<(rix_api::record::KeyFactor, Vec<RecordView>)>,
}

pub async fn page(State(web): State<Arc<Web>>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let l = ctx.lang;
    let found = web
        .ask(move |b| {
            let record = b.show(&id)?;
            let versions = b.history(&record.id.to_hex())?;
            let related = record.related.iter().filter_map(|id| b.show(&id.to_hex()).ok()).collect();
            let mut others = Vec::new();
            for factor in record.factors.iter().take(3) {
                let filter = RecordFilter { factor: Some(*factor), limit: Some(40), ..RecordFilter::default() };
                let theirs: Vec<RecordView> = b
                    .list(&filter)?
                    .records
                    .into_iter()
                    .filter(|v| v.author != record.author)
                    .take(OTHERS_PER_FACTOR)
                    .collect();
                if !theirs.is_empty() {
                    others.push((*factor, theirs));
                }
            }
            Ok(RecordPage { record, versions, related, others })
        })
        .await;
    let title = found.as_ref().map_or_else(|_| l.t("rec.notfound").to_owned(), |p| p.record.title.clone());
    ctx.respond(&title, found.map(|p| render(l, &p)))
}

fn render(l: Lang, p: &RecordPage) -> Markup {
    let v = &p.record;
    html! {
        article.record lang=(v.language) {
            h1 { (v.title) (state_badges(l, v)) }
            (meta_list(l, v))
            @if !v.summary.is_empty() { p.summary { (v.summary) } }
            @if let Some(w) = &v.withdrawal {
                div.notice.warn role="note" lang=(l.tag()) {
                    strong { (l.t("rec.withdrawal")) } " — " time datetime=(w.created_at) { (l.date(&w.created_at)) }
                    p { (l.t("rec.reason")) ": " span lang=(v.language) { (w.reason) } }
                }
            }
            @if let Some(body) = v.body.as_deref().filter(|b| !b.trim().is_empty()) {
                section.body { (PreEscaped(rix_export::markdown_html(body))) }
            }
            @if let Some(details) = &v.details { section.details lang=(l.tag()) { h2 { (l.t("rec.details")) } (json_details(details)) } }
        }
        div.aside {
            @if p.versions.len() > 1 {
                section {
                    h2 { (l.t("rec.versions")) }
                    ol.records { @for version in &p.versions {
                        li aria-current=[(version.id == v.id).then_some("page")] {
                            (record_item(l, version))
                            @if version.is_current() { " " span.badge.ok { (l.t("rec.current")) } }
                        }
                    } }
                }
            }
            @if !p.related.is_empty() {
                section { h2 { (l.t("rec.related")) } ul.records { @for r in &p.related { li { (record_item(l, r)) } } } }
            }
            @if !p.others.is_empty() {
                section {
                    h2 { (l.t("rec.others")) }
                    @for (factor, records) in &p.others {
                        h3 { a href={ "/records?factor=" (factor.slug()) } { (l.factor(*factor)) } }
                        ul.records { @for r in records { li { (record_item(l, r)) } } }
                    }
                }
            }
        }
    }
}

/// The record's fields as a definition list, in the interface language.
fn meta_list(l: Lang, v: &RecordView) -> Markup {
    let join = |items: Vec<String>| items.join(", ");
    html! {
        dl.meta lang=(l.tag()) {
            dt { (l.t("rec.author")) } dd { a href={ "/records?member=" (v.author) } { span.member { (v.author) } } }
            dt { (l.t("rec.kind")) } dd { (kind_name(l, v.kind)) }
            dt { (l.t("rec.created")) } dd { time datetime=(v.created_at) { (l.date_time(&v.created_at)) } }
            dt { (l.t("rec.language")) } dd { span.code { (v.language) } }
            @if !v.factors.is_empty() {
                dt { (l.t("rec.factors")) }
                dd { ul.factors { @for f in &v.factors { li { a href={ "/records?factor=" (f.slug()) } { (l.factor(*f)) } } } } }
            }
            @if !v.approaches.is_empty() { dt { (l.t("rec.approaches")) } dd { (join(v.approaches.iter().map(|a| a.label().to_owned()).collect())) } }
            @if !v.stages.is_empty() { dt { (l.t("rec.stages")) } dd { (join(v.stages.iter().map(|a| a.label().to_owned()).collect())) } }
            @if !v.themes.is_empty() { dt { (l.t("rec.themes")) } dd { (join(v.themes.iter().map(|a| a.label().to_owned()).collect())) } }
            @if !v.tags.is_empty() { dt { (l.t("rec.tags")) } dd lang=(v.language) { (v.tags.join(", ")) } }
            @if let Some(period) = &v.period {
                dt { (l.t("rec.period")) } dd { (serde_json::to_value(period).ok().map(|p| plain(&p)).unwrap_or_default()) }
            }
            @if let Some(unit) = &v.contact_unit { dt { (l.t("rec.contact")) } dd lang=(v.language) { (unit) } }
            dt { (l.t("rec.seq")) } dd { (v.seq) }
            dt { (l.t("rec.signature")) } dd { span.ok { "✓ " } (l.t("rec.verified")) }
            dt { (l.t("rec.id")) } dd { code.id { (v.id) } }
        }
    }
}

/// A kind's section, field by field; nested values are written plainly.
fn json_details(value: &serde_json::Value) -> Markup {
    match value {
        serde_json::Value::Object(fields) => html! {
            dl.details {
                @for (name, value) in fields {
                    dt { (name.replace('_', " ")) }
                    dd { (json_details(value)) }
                }
            }
        },
        other => html! { (plain(other)) },
    }
}

/// A JSON value as text: strings bare, lists joined, objects as `key: value`.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        serde_json::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        serde_json::Value::Object(fields) => {
            fields.iter().map(|(k, v)| format!("{}: {}", k.replace('_', " "), plain(v))).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

/// `GET /compare?id=A&id=B...`: two to [`MAX_COMPARED`] records side by side.
pub async fn compare(State(web): State<Arc<Web>>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let l = ctx.lang;
    let mut ids: Vec<String> = pairs(raw.as_deref()).into_iter().filter(|(k, _)| k == "id").map(|(_, v)| v).collect();
    ids.dedup();
    let body = async {
        if ids.len() < 2 {
            return Ok(html! { h1 { (l.t("cmp.title")) } p { (l.t("cmp.need")) } p { a href="/records" { (l.t("nav.records")) } } });
        }
        if ids.len() > MAX_COMPARED {
            return Err(PageError::BadRequest(format!(
                "{} records selected: at most {MAX_COMPARED} can be compared side by side",
                ids.len()
            )));
        }
        let views = web.ask(move |b| ids.iter().map(|id| b.show(id)).collect::<Result<Vec<_>, _>>()).await?;
        Ok(render_compare(l, &views))
    }
    .await;
    ctx.respond(l.t("cmp.title"), body)
}

fn render_compare(l: Lang, views: &[RecordView]) -> Markup {
    html! {
        h1 { (l.t("cmp.title")) }
        div.compare.scroll {
            table.compare {
                thead { tr {
                    th scope="col" { span.visually-hidden { (l.t("rec.details")) } }
                    @for v in views { th scope="col" lang=(v.language) { a href={ "/records/" (v.id) } { (v.title) } (state_badges(l, v)) } }
                } }
                tbody {
                    tr { th scope="row" { (l.t("rec.member")) } @for v in views { td { span.member { (v.author) } } } }
                    tr { th scope="row" { (l.t("rec.kind")) } @for v in views { td { (kind_name(l, v.kind)) } } }
                    tr { th scope="row" { (l.t("rec.date")) } @for v in views { td { (l.date(&v.created_at)) } } }
                    tr { th scope="row" { (l.t("rec.language")) } @for v in views { td { span.code { (v.language) } } } }
                    tr { th scope="row" { (l.t("rec.factors")) } @for v in views {
                        td { ul.factors { @for f in &v.factors { li.shared[views.iter().all(|o| o.factors.contains(f))] { (l.factor(*f)) } } } }
                    } }
                    tr { th scope="row" { (l.t("rec.summary")) } @for v in views { td lang=(v.language) { (v.summary) } } }
                    tr { th scope="row" { (l.t("rec.tags")) } @for v in views { td lang=(v.language) { (v.tags.join(", ")) } } }
                    tr.body { th scope="row" { (l.t("rec.body")) } @for v in views {
                        td lang=(v.language) { (PreEscaped(rix_export::markdown_html(v.body.as_deref().unwrap_or("")))) }
                    } }
                }
            }
        }
    }
}
