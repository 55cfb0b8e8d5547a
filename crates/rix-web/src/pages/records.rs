//! `/records`: every `rix list` filter and full-text search, with highlighted snippets, paging,
//! boxes to pick records for a comparison, and downloads of the selection (`/download`).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rix_api::record::{KeyFactor, Kind};
use rix_api::{CharterView, RecordView, SearchHit, SearchQuery};

use super::layout::record_item;
use super::{Ctx, PageError};
use crate::Web;
use crate::i18n::Lang;
use crate::query::{MAX_PAGE, PAGE_SIZE, Selection, pairs};

/// Languages offered in the filter; any other tag can still be given in the URL.
const LANGUAGES: [(&str, &str); 10] = [
    ("az", "Azərbaycan"),
    ("en", "English"),
    ("ja", "日本語"),
    ("kk", "Қазақ"),
    ("ky", "Кыргыз"),
    ("mn", "Монгол"),
    ("ru", "Русский"),
    ("tg", "Тоҷикӣ"),
    ("uz", "Oʻzbek"),
    ("zh", "中文"),
];

/// At most this many search hits go into a download (a listing's download has no limit).
pub const MAX_SEARCH_DOWNLOAD: usize = 1000;

/// One page of results.
enum Results {
    Listed(Vec<RecordView>),
    Found { total: usize, hits: Vec<SearchHit> },
}

pub async fn page(State(web): State<Arc<Web>>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let l = ctx.lang;
    let body = async {
        let selection = Selection::parse(raw.as_deref())?;
        let skip = (selection.page - 1) * PAGE_SIZE;
        let wanted = skip + PAGE_SIZE + 1;
        let s = selection.clone();
        let (results, charter) = web
            .ask(move |b| {
                let charter = b.charter(None)?;
                let results = if s.text.is_empty() {
                    let mut records = b.list(&s.filter(Some(wanted)))?.records;
                    Results::Listed(records.drain(skip.min(records.len())..).collect())
                } else {
                    let query = SearchQuery { text: s.text.clone(), filter: s.filter(Some(wanted)) };
                    let mut found = b.search(&query)?;
                    let hits = found.records.drain(skip.min(found.records.len())..).collect();
                    Results::Found { total: found.total, hits }
                };
                Ok((results, charter))
            })
            .await?;
        Ok::<_, PageError>(render(l, &selection, &results, &charter))
    }
    .await;
    ctx.respond(l.t("nav.records"), body)
}

fn render(l: Lang, s: &Selection, results: &Results, charter: &CharterView) -> Markup {
    let shown = match results {
        Results::Listed(v) => v.len(),
        Results::Found { hits, .. } => hits.len(),
    };
    let has_next = shown > PAGE_SIZE && s.page < MAX_PAGE;
    html! {
        h1 { (l.t("nav.records")) }
        (filters(l, s, charter))
        section aria-labelledby="results" {
            h2 #results .visually-hidden { (l.t("rec.results")) }
            p.count #count {
                @match results {
                    Results::Found { total, .. } => { (l.number(*total as u64)) " " (l.t("rec.matches")) }
                    Results::Listed(_) => {
                        (l.t("rec.page")) " " (s.page) " · " (l.number(((s.page - 1) * PAGE_SIZE + shown.min(PAGE_SIZE)) as u64))
                        @if has_next { "+" } " " (l.t("rec.found"))
                    }
                }
            }
            @if shown == 0 { p.empty { (l.t("rec.none")) } }
            @else {
                form method="get" action="/compare" {
                    ol.records start=((s.page - 1) * PAGE_SIZE + 1) {
                        @match results {
                            Results::Listed(views) => @for v in views.iter().take(PAGE_SIZE) { li { (pick(l, v)) (record_item(l, v)) } },
                            Results::Found { hits, .. } => @for h in hits.iter().take(PAGE_SIZE) {
                                li { (pick(l, &h.record)) (record_item(l, &h.record)) p.snippet lang=(h.record.language) { (snippet(h)) } }
                            },
                        }
                    }
                    button type="submit" #compare { (l.t("rec.compare")) }
                }
            }
            nav.pages aria-label=(l.t("rec.page")) {
                @if s.page > 1 { a rel="prev" href={ "/records?" (s.page_query(s.page - 1)) } { "← " (l.t("rec.prev")) } }
                @if has_next { a rel="next" #next href={ "/records?" (s.page_query(s.page + 1)) } { (l.t("rec.next")) " →" } }
            }
            @if shown > PAGE_SIZE && s.page == MAX_PAGE { p.muted { (l.t("rec.deepest")) } }
        }
        section.downloads aria-labelledby="download" {
            h2 #download { (l.t("rec.download")) }
            ul {
                @for (format, key) in [("csv", "dl.csv"), ("md", "dl.md"), ("html", "dl.html"), ("json", "dl.json"), ("jsonl", "dl.jsonl")] {
                    @let query = s.to_query();
                    li { a download href={ "/download?" (query) @if !query.is_empty() { "&" } "format=" (format) } { (l.t(key)) } }
                }
            }
        }
    }
}

/// The checkbox that picks a record for the comparison.
fn pick(l: Lang, v: &RecordView) -> Markup {
    html! {
        input.pick type="checkbox" name="id" value=(v.id) id={ "pick-" (v.id.short()) } ;
        label.visually-hidden for={ "pick-" (v.id.short()) } { (l.t("rec.select")) ": " (v.title) }
    }
}

/// A search snippet with its matches marked.
fn snippet(hit: &SearchHit) -> Markup {
    html! {
        @for (part, matched) in marked(&hit.snippet, &hit.highlights) {
            @if matched { mark { (part) } } @else { (part) }
        }
    }
}

/// `text` cut at the highlighted byte ranges: `(part, matched)`. Ranges that overlap, run
/// backwards or fall inside a character are ignored.
fn marked<'a>(text: &'a str, highlights: &[(usize, usize)]) -> Vec<(&'a str, bool)> {
    let mut parts = Vec::new();
    let mut at = 0;
    for &(start, end) in highlights {
        if start >= at && start < end && end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end)
        {
            parts.push((&text[at..start], false));
            parts.push((&text[start..end], true));
            at = end;
        }
    }
    parts.push((&text[at..], false));
    parts.retain(|(p, _)| !p.is_empty());
    parts
}

/// The filter form: every `rix list` filter, and the search box.
fn filters(l: Lang, s: &Selection, charter: &CharterView) -> Markup {
    html! {
        form.filters method="get" action="/records" role="search" {
            div.field.wide {
                label for="q" { (l.t("rec.search")) }
                input #q type="search" name="q" value=(s.text) placeholder=(l.t("rec.search.hint"));
            }
            div.field {
                label for="kind" { (l.t("rec.kind")) }
                select #kind name="kind" {
                    option value="" { (l.t("rec.any")) }
                    @for k in Kind::ALL { option value=(k.slug()) selected[s.kind == Some(*k)] { (l.kind(*k)) } }
                }
            }
            div.field {
                label for="member" { (l.t("rec.member")) }
                select #member name="member" {
                    option value="" { (l.t("rec.any")) }
                    @for m in &charter.members {
                        option value=(m.code) selected[s.member.as_ref() == Some(&m.code)] { (m.code) " — " (m.name) }
                    }
                }
            }
            div.field {
                label for="factor" { (l.t("rec.factor")) }
                select #factor name="factor" {
                    option value="" { (l.t("rec.any")) }
                    @for f in KeyFactor::ALL { option value=(f.slug()) selected[s.factor == Some(*f)] { (l.factor(*f)) } }
                }
            }
            div.field {
                label for="language" { (l.t("rec.language")) }
                select #language name="language" {
                    option value="" { (l.t("rec.any")) }
                    @for (tag, name) in LANGUAGES { option value=(tag) lang=(tag) selected[s.language.as_deref() == Some(tag)] { (name) } }
                    @if let Some(other) = s.language.as_deref().filter(|t| !LANGUAGES.iter().any(|(x, _)| x == t)) {
                        option value=(other) selected { (other) }
                    }
                }
            }
            div.field {
                label for="since" { (l.t("rec.since")) }
                input #since type="date" name="since" value=[s.since.as_deref()];
            }
            div.field.checks {
                label { input type="checkbox" name="withdrawn" value="1" checked[s.include_withdrawn]; " " (l.t("rec.include_withdrawn")) }
                label { input type="checkbox" name="all" value="1" checked[s.all_versions]; " " (l.t("rec.all_versions")) }
            }
            div.field.actions {
                button type="submit" #apply { (l.t("rec.filter")) }
                @if s.is_narrowed() { a href="/records" { (l.t("rec.reset")) } }
            }
        }
    }
}

/// `GET /download?SELECTION&format=F`: the selection through `rix export`'s exporters, as a
/// file. A listing's download has every record it selects, streamed; a search's has its best
/// [`MAX_SEARCH_DOWNLOAD`] hits. CSV starts with a byte order mark, for spreadsheet programs.
pub async fn download(State(web): State<Arc<Web>>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let format = pairs.iter().find(|(k, _)| k == "format").map(|(_, v)| v.as_str()).unwrap_or("");
    let parsed = Selection::parse(raw.as_deref()).and_then(|s| {
        let format: rix_export::Format =
            format.parse().map_err(|e: rix_export::UnknownFormat| PageError::BadRequest(e.to_string()))?;
        Ok((s, format))
    });
    let (selection, format) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return ctx.respond(ctx.lang.t("dl.title"), Err(e)),
    };
    let open = web.open.clone();
    let body = crate::body::streamed(move |out| {
        let backend = open()?;
        let mut exporter = rix_export::Exporter::start(format, out, format == rix_export::Format::Csv)
            .map_err(rix_api::Error::io("writing the download"))?;
        if selection.text.is_empty() {
            backend.export_views(&selection.filter(None), &mut |view| exporter.push(view))?;
        } else {
            let query =
                SearchQuery { text: selection.text.clone(), filter: selection.filter(Some(MAX_SEARCH_DOWNLOAD)) };
            for hit in backend.search(&query)?.records {
                exporter
                    .push(backend.show(&hit.record.id.to_hex())?)
                    .map_err(rix_api::Error::io("writing the download"))?;
            }
        }
        exporter.finish().map(drop).map_err(rix_api::Error::io("writing the download"))
    });
    let date = rix_api::record::Timestamp::now().date();
    let disposition = format!("attachment; filename=\"rix-records-{date}.{}\"", format.slug());
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, format.media_type())], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_mark_whole_characters_only() {
        let text = "廉政建设 and more";
        assert_eq!(marked(text, &[(0, 6)]), vec![("廉政", true), ("建设 and more", false)]);
        assert_eq!(marked(text, &[(1, 6), (17, 21)]), vec![("廉政建设 and ", false), ("more", true)]);
        assert_eq!(marked(text, &[(6, 3), (0, 99)]), vec![(text, false)]);
    }
}
