//! The exports of records that analysts take away: JSON, JSON lines, CSV, and the Markdown and
//! HTML reports grouped by key factor. One implementation serves `rix export` and the web
//! view's downloads, so a file downloaded from the browser is byte for byte what the CLI
//! writes for the same selection.

use std::io::Write;
use std::str::FromStr;

use rix_api::RecordView;

mod report;

pub use report::{html, markdown, markdown_html};

/// The formats of a view export (the signed pack is not one: it carries envelopes, not views).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `{"records": [...]}` with bodies, pretty-printed.
    Json,
    /// One record per line.
    Jsonl,
    /// One row per record; list fields joined with "; ".
    Csv,
    /// A Markdown report grouped by key factor.
    Md,
    /// One self-contained HTML report grouped by key factor.
    Html,
}

impl Format {
    /// Every format, in the order menus show them.
    pub const ALL: [Format; 5] = [Format::Csv, Format::Md, Format::Html, Format::Json, Format::Jsonl];

    /// The name used on the command line and in URLs.
    pub fn slug(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
        }
    }

    /// The HTTP media type of a download.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Md => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// An unknown export format name.
#[derive(Debug, thiserror::Error)]
#[error("unknown export format {0:?} (expected json, jsonl, csv, md or html)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.slug() == s).ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Writes an export record by record. JSON, JSON lines and CSV are written as the records
/// come, so an export of any size holds one record; the Markdown and HTML reports group records
/// by key factor and hold them until [`Exporter::finish`].
pub struct Exporter<W: Write> {
    format: Format,
    out: W,
    json: JsonRecords,
    csv: Option<CsvRecords>,
    held: Vec<RecordView>,
    count: u64,
}

impl<W: Write> Exporter<W> {
    /// Starts an export to `out`; `bom` starts CSV with a UTF-8 byte order mark (for
    /// spreadsheet programs).
    pub fn start(format: Format, mut out: W, bom: bool) -> std::io::Result<Self> {
        let csv = match format {
            Format::Csv => Some(CsvRecords::start(&mut out, bom)?),
            _ => None,
        };
        Ok(Self { format, out, json: JsonRecords::default(), csv, held: Vec::new(), count: 0 })
    }

    /// Adds one record.
    pub fn push(&mut self, view: RecordView) -> std::io::Result<()> {
        match self.format {
            Format::Json => self.json.push(&mut self.out, &view)?,
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, &view)?;
                writeln!(self.out)?;
            }
            Format::Csv => self.csv.as_mut().expect("started with the export").push(&mut self.out, &view)?,
            Format::Md | Format::Html => self.held.push(view),
        }
        self.count += 1;
        Ok(())
    }

    /// Writes what remains and returns the output and how many records were exported.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        match self.format {
            Format::Json => std::mem::take(&mut self.json).finish(&mut self.out)?,
            Format::Md => markdown(&self.held, &mut self.out)?,
            Format::Html => html(&self.held, &mut self.out)?,
            Format::Jsonl | Format::Csv => {}
        }
        self.out.flush()?;
        Ok((self.out, self.count))
    }
}

/// Items joined by `sep`, each by its `Display`.
fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep)
}

/// `export --format json`, written record by record: the same bytes as serde_json's pretty
/// printing of `{"records": [...]}`, without holding the records.
#[derive(Default)]
pub(crate) struct JsonRecords {
    written: u64,
}

impl JsonRecords {
    fn push(&mut self, out: &mut dyn Write, view: &RecordView) -> std::io::Result<()> {
        out.write_all(if self.written == 0 { b"{\n  \"records\": [\n" } else { b",\n" })?;
        // Through a `Value`, as the whole-list export did: its keys come out sorted.
        let text = serde_json::to_string_pretty(&serde_json::to_value(view)?)?;
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            write!(out, "    {line}")?;
        }
        self.written += 1;
        Ok(())
    }

    fn finish(self, out: &mut dyn Write) -> std::io::Result<()> {
        match self.written {
            0 => out.write_all(b"{\n  \"records\": []\n}\n"),
            _ => out.write_all(b"\n  ]\n}\n"),
        }
    }
}

/// `export --format csv`, written record by record.
pub(crate) struct CsvRecords;

impl CsvRecords {
    const COLUMNS: [&str; 17] = [
        "id",
        "author",
        "seq",
        "kind",
        "title",
        "summary",
        "language",
        "factors",
        "approaches",
        "stages",
        "themes",
        "tags",
        "created_at",
        "supersedes",
        "superseded_by",
        "withdrawn",
        "body",
    ];

    fn start(out: &mut dyn Write, bom: bool) -> std::io::Result<Self> {
        if bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        Self::row(out, &Self::COLUMNS)?;
        Ok(Self)
    }

    fn push(&mut self, out: &mut dyn Write, v: &RecordView) -> std::io::Result<()> {
        let optional = |id: &Option<rix_api::record::RecordId>| id.map(|id| id.to_string()).unwrap_or_default();
        Self::row(
            out,
            &[
                &v.id.to_string(),
                v.author.as_str(),
                &v.seq.to_string(),
                v.kind.slug(),
                &v.title,
                &v.summary,
                &v.language,
                &join(&v.factors, "; "),
                &join(&v.approaches, "; "),
                &join(&v.stages, "; "),
                &join(&v.themes, "; "),
                &v.tags.join("; "),
                &v.created_at.to_string(),
                &optional(&v.supersedes),
                &optional(&v.superseded_by),
                if v.withdrawn { "true" } else { "false" },
                v.body.as_deref().unwrap_or(""),
            ],
        )
    }

    /// One CSV line. A writer per line: the csv crate's writer buffers and would otherwise
    /// have to own the output across the export.
    fn row(out: &mut dyn Write, fields: &[&str]) -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(fields).map_err(std::io::Error::other)?;
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rix_api::RecordView;

    fn view(n: u64, body: &str) -> RecordView {
        serde_json::from_value(serde_json::json!({
            "id": format!("{n:064x}"), "author": "KZ", "seq": n, "prev": null, "kind": "best-practice",
            "title": format!("Title \"{n}\""), "summary": "line one\nline two", "language": "ru",
            "factors": ["leadership", "automation"], "approaches": [], "stages": [], "themes": [],
            "tags": ["a, b"], "created_at": "2026-01-01T00:00:00Z", "supersedes": null,
            "superseded_by": null, "withdrawn": false, "withdrawal": null, "withdraws": null,
            "period": {"from": "2026-01-01"}, "contact_unit": null, "related": [], "body": body,
        }))
        .unwrap()
    }

    /// The streamed JSON export is byte for byte what pretty-printing the whole list gave.
    #[test]
    fn json_written_record_by_record_equals_the_whole_list_pretty_printed() {
        for views in
            [vec![], vec![view(1, "Тело\n\n- пункт")], vec![view(1, "a"), view(2, "b \"quoted\""), view(3, "")]]
        {
            let mut streamed = Vec::new();
            let mut json = JsonRecords::default();
            for v in &views {
                json.push(&mut streamed, v).unwrap();
            }
            json.finish(&mut streamed).unwrap();
            let mut whole = serde_json::to_vec_pretty(&serde_json::json!({ "records": views })).unwrap();
            whole.push(b'\n');
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(whole).unwrap(),
                "{} records",
                views.len()
            );
        }
    }

    /// One writer per line gives the same CSV as one writer for the whole file.
    #[test]
    fn csv_written_line_by_line_equals_one_writer() {
        let views = [view(1, "body, with \"quotes\"\nand a line"), view(2, "")];
        let mut streamed = Vec::new();
        let mut csv = CsvRecords::start(&mut streamed, true).unwrap();
        for v in &views {
            csv.push(&mut streamed, v).unwrap();
        }
        let mut whole = "\u{feff}".as_bytes().to_vec();
        {
            let mut w = csv::Writer::from_writer(&mut whole);
            w.write_record(CsvRecords::COLUMNS).unwrap();
            for v in &views {
                let seq = v.seq.to_string();
                let (factors, tags) = (join(&v.factors, "; "), v.tags.join("; "));
                let (id, created) = (v.id.to_string(), v.created_at.to_string());
                w.write_record([
                    id.as_str(),
                    v.author.as_str(),
                    &seq,
                    v.kind.slug(),
                    &v.title,
                    &v.summary,
                    &v.language,
                    &factors,
                    "",
                    "",
                    "",
                    &tags,
                    &created,
                    "",
                    "",
                    "false",
                    v.body.as_deref().unwrap_or(""),
                ])
                .unwrap();
            }
            w.flush().unwrap();
        }
        assert_eq!(String::from_utf8(streamed).unwrap(), String::from_utf8(whole).unwrap());
    }
}
