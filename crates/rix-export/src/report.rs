//! Readable reports of records: Markdown, and one self-contained HTML file (inline style, no
//! external resources) with the same content and a table of contents. Both group records by the
//! ten key factors; a record with several factors appears under each.

use std::collections::BTreeMap;
use std::io::Write;

use rix_api::RecordView;
use rix_api::record::KeyFactor;

/// Records grouped by key factor, in the declaration's order.
fn by_factor(views: &[RecordView]) -> BTreeMap<usize, Vec<&RecordView>> {
    let mut groups: BTreeMap<usize, Vec<&RecordView>> = BTreeMap::new();
    for v in views {
        for f in &v.factors {
            if let Some(i) = KeyFactor::ALL.iter().position(|k| k == f) {
                groups.entry(i).or_default().push(v);
            }
        }
    }
    groups
}

fn meta_line(v: &RecordView) -> String {
    let mut parts = vec![v.author.to_string(), v.kind.to_string(), v.created_at.date().to_string(), v.language.clone()];
    if v.withdrawn {
        parts.push("withdrawn".into());
    } else if v.superseded_by.is_some() {
        parts.push("superseded".into());
    }
    parts.join(" · ")
}

/// The Markdown report.
pub fn markdown(views: &[RecordView], out: &mut dyn Write) -> std::io::Result<()> {
    let groups = by_factor(views);
    writeln!(out, "# Regional Integrity eXchange: records report\n")?;
    writeln!(out, "{} records, grouped by the key factors of the Revised Arusha Declaration.\n", views.len())?;
    writeln!(out, "## Contents\n")?;
    for (i, records) in &groups {
        let f = KeyFactor::ALL[*i];
        writeln!(out, "- [{}](#{}) ({})", f.label(), f.slug(), records.len())?;
    }
    for (i, records) in &groups {
        let f = KeyFactor::ALL[*i];
        writeln!(out, "\n<a id=\"{}\"></a>\n## {}\n", f.slug(), f.label())?;
        for v in records {
            writeln!(out, "### {}\n", v.title)?;
            writeln!(out, "*{}* — `{}`\n", meta_line(v), v.id.short())?;
            if !v.summary.is_empty() {
                writeln!(out, "{}\n", v.summary)?;
            }
            if !v.tags.is_empty() {
                writeln!(out, "Tags: {}\n", v.tags.join(", "))?;
            }
            if let Some(body) = v.body.as_deref().filter(|b| !b.trim().is_empty()) {
                for line in body.lines() {
                    // Demote the body's headings so they nest under the record's.
                    if line.starts_with('#') { writeln!(out, "###{line}")? } else { writeln!(out, "{line}")? }
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Markdown to HTML, with raw HTML in the source shown as text (records come from other
/// administrations; nothing in them may run in the reader's browser).
pub fn markdown_html(md: &str) -> String {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd, html};
    let demote = |l: HeadingLevel| match l {
        HeadingLevel::H1 => HeadingLevel::H4,
        HeadingLevel::H2 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    };
    let events = Parser::new(md).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        Event::Start(Tag::Heading { level, id, classes, attrs }) => {
            Event::Start(Tag::Heading { level: demote(level), id, classes, attrs })
        }
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
        Event::Start(Tag::Link { link_type, dest_url, title, id })
            if dest_url.trim_start().to_ascii_lowercase().starts_with("javascript:") =>
        {
            Event::Start(Tag::Link { link_type, dest_url: "#".into(), title, id })
        }
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans','Noto Sans CJK SC',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1f24}\
h1{border-bottom:3px solid #1f4e79}h2{margin-top:2.5rem;color:#1f4e79;border-bottom:1px solid #ccd}\
.record{border:1px solid #dde;border-radius:6px;padding:.5rem 1rem;margin:1rem 0;background:#fafbfd}\
.meta{color:#555;font-size:.9rem}.meta code{background:#eef;padding:0 .3rem;border-radius:3px}\
.tags span{display:inline-block;background:#e6eef7;border-radius:10px;padding:0 .5rem;margin:0 .2rem .2rem 0;font-size:.85rem}\
.withdrawn{opacity:.6}.badge{background:#b33;color:#fff;border-radius:3px;padding:0 .3rem;font-size:.8rem}\
nav ul{columns:2}table.stats{border-collapse:collapse}table.stats td,table.stats th{border:1px solid #ccd;padding:.2rem .5rem}";

/// The HTML report: one file, no external resources.
pub fn html(views: &[RecordView], out: &mut dyn Write) -> std::io::Result<()> {
    let groups = by_factor(views);
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(out, "<title>Regional Integrity eXchange: records report</title><style>{STYLE}</style></head><body>")?;
    writeln!(out, "<h1>Regional Integrity eXchange: records report</h1>")?;
    writeln!(
        out,
        "<p>{} records, grouped by the key factors of the Revised Arusha Declaration. A record appears under each of its key factors.</p>",
        views.len()
    )?;
    writeln!(out, "<nav><h2>Contents</h2><ul>")?;
    for (i, records) in &groups {
        let f = KeyFactor::ALL[*i];
        writeln!(out, "<li><a href=\"#{}\">{}</a> ({})</li>", f.slug(), esc(f.label()), records.len())?;
    }
    writeln!(out, "</ul></nav>")?;
    for (i, records) in &groups {
        let f = KeyFactor::ALL[*i];
        writeln!(out, "<section id=\"{}\"><h2>{}</h2>", f.slug(), esc(f.label()))?;
        for v in records {
            let class = if v.withdrawn { "record withdrawn" } else { "record" };
            writeln!(out, "<article class=\"{class}\" lang=\"{}\">", esc(&v.language))?;
            let badge = if v.withdrawn { " <span class=\"badge\">withdrawn</span>" } else { "" };
            writeln!(out, "<h3>{}{badge}</h3>", esc(&v.title))?;
            writeln!(out, "<p class=\"meta\">{} — <code>{}</code></p>", esc(&meta_line(v)), v.id.short())?;
            if !v.summary.is_empty() {
                writeln!(out, "<p><strong>{}</strong></p>", esc(&v.summary))?;
            }
            if !v.tags.is_empty() {
                let tags: Vec<String> = v.tags.iter().map(|t| format!("<span>{}</span>", esc(t))).collect();
                writeln!(out, "<p class=\"tags\">{}</p>", tags.join(""))?;
            }
            if let Some(body) = v.body.as_deref().filter(|b| !b.trim().is_empty()) {
                writeln!(out, "{}", markdown_html(body))?;
            }
            writeln!(out, "</article>")?;
        }
        writeln!(out, "</section>")?;
    }
    writeln!(out, "</body></html>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_and_script_links_in_bodies_are_neutralised() {
        let html = markdown_html("# T\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) and <b>bold</b>");
        assert!(!html.contains("<script>") && !html.contains("javascript:") && !html.contains("<b>"), "{html}");
        assert!(html.contains("<h4>T</h4>"), "{html}");
    }
}
