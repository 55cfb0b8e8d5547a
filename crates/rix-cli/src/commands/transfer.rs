//! Moving records in and out, and checking them: `export`, `import`, `verify`.

use std::io::{BufWriter, Write};

use anyhow::{Context as _, Result};
use rix_api::RecordView;
use rix_api::record::pack::{PackReader, PackWriter};

use super::{Context, filter_from};
use crate::cli::{ExportArgs, ExportFormat, ImportArgs};
use crate::render::join;

pub fn export(ctx: &Context, args: &ExportArgs) -> Result<()> {
    let backend = ctx.backend()?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    // Progress only when the output is a file: on stdout it would interleave with the data.
    let mut progress = crate::progress::Progress::new("exporting", ctx.quiet || ctx.json || args.out.is_none());
    let count = if args.format == ExportFormat::Signed {
        // The pack's end marker (count and digest) is written only once every entry is: an
        // export that fails part-way leaves a file every importer refuses.
        let mut pack = PackWriter::new(&mut out)?;
        let mut done = 0;
        let count = backend.export_signed(&mut |kind, envelope, total| {
            pack.write(kind, envelope)?;
            done += 1;
            progress.set(done, total.max(done));
            Ok(())
        })?;
        pack.finish()?;
        count as usize
    } else {
        let filter = filter_from(&args.filter)?;
        let mut done = 0;
        // Records arrive one at a time and are written as they come; only the Markdown and
        // HTML reports, which group records, hold them all.
        let mut views = Vec::new();
        let mut json = JsonRecords::default();
        let mut csv = match args.format {
            ExportFormat::Csv => Some(CsvRecords::start(&mut out, args.bom)?),
            _ => None,
        };
        backend.export_views(&filter, &mut |view| {
            match args.format {
                ExportFormat::Json => json.push(&mut out, &view)?,
                ExportFormat::Jsonl => {
                    serde_json::to_writer(&mut out, &view)?;
                    writeln!(out)?;
                }
                ExportFormat::Csv => csv.as_mut().expect("started").push(&mut out, &view)?,
                ExportFormat::Md | ExportFormat::Html => views.push(view),
                ExportFormat::Signed => unreachable!("handled above"),
            }
            done += 1;
            progress.set(done, done);
            Ok(())
        })?;
        match args.format {
            ExportFormat::Json => json.finish(&mut out)?,
            ExportFormat::Md => crate::report::markdown(&views, &mut out)?,
            ExportFormat::Html => crate::report::html(&views, &mut out)?,
            _ => {}
        }
        done as usize
    };
    out.flush()?;
    progress.finish();
    if let Some(path) = &args.out {
        if ctx.json {
            ctx.print_json(&serde_json::json!({"exported": count, "out": path}))?;
        } else {
            ctx.note(format!("exported {count} records to {}", path.display()));
        }
    }
    Ok(())
}

/// `export --format json`, written record by record: the same bytes as serde_json's pretty
/// printing of `{"records": [...]}`, without holding the records.
#[derive(Default)]
struct JsonRecords {
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
struct CsvRecords;

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

    fn start(out: &mut dyn Write, bom: bool) -> Result<Self> {
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

pub fn import(ctx: &Context, args: &ImportArgs) -> Result<()> {
    let open = || -> Result<std::io::BufReader<std::fs::File>> {
        let file = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
        Ok(std::io::BufReader::new(file))
    };
    // A first pass reads the whole pack, checking its framing and (version 2) its end marker's
    // count and digest, without keeping the entries: a pack that is cut, or has entries
    // dropped, duplicated, reordered or changed, is refused before anything is imported. The
    // second pass streams it in.
    let mut total = 0u64;
    for entry in PackReader::new(open()?).with_context(|| format!("{}", args.file.display()))? {
        entry.with_context(|| format!("{}", args.file.display()))?;
        total += 1;
    }
    let mut progress = crate::progress::Progress::new("importing", ctx.quiet || ctx.json);
    let report = ctx.backend()?.import(&mut open()?, total, &mut |d, t| progress.set(d, t))?;
    progress.finish();
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        outln!(
            "read {}: {} stored, {} already held, {} equivocations kept as evidence, {} rejected",
            report.read,
            report.stored,
            report.duplicates,
            report.equivocations,
            report.rejected.len()
        );
        for r in &report.rejected {
            outln!("  rejected #{} ({}): {}", r.index, r.id.map(|id| id.short()).unwrap_or_default(), r.error);
        }
    }
    if !report.rejected.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

pub fn verify(ctx: &Context) -> Result<()> {
    let mut progress = crate::progress::Progress::new("verifying", ctx.quiet || ctx.json);
    let report = ctx.backend()?.verify(&mut |d, t| progress.set(d, t))?;
    progress.finish();
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        outln!("checked {} records: {} valid, {} failed", report.checked, report.valid, report.failures.len());
        for f in &report.failures {
            match f.id {
                Some(id) => outln!("  FAILED {}: {}", id.short(), f.error),
                None => outln!("  FAILED: {}", f.error),
            }
        }
        for c in &report.chains {
            let mut line = format!(
                "  {:<6} {} records, contiguous to #{}, highest #{}",
                c.member.as_str(),
                c.held,
                c.contiguous,
                c.max_seq
            );
            if !c.missing.is_empty() {
                let gaps: Vec<String> = c
                    .missing
                    .iter()
                    .map(|(a, b)| if a == b { format!("#{a}") } else { format!("#{a}-#{b}") })
                    .collect();
                line.push_str(&format!("; missing {}", gaps.join(", ")));
            }
            for (seq, id) in &c.broken_links {
                line.push_str(&format!("; #{seq} ({}) links to a record not held", id.short()));
            }
            outln!("{line}");
        }
        for e in &report.equivocations {
            outln!(
                "  EQUIVOCATION: {} signed {} different records with seq {}: {}",
                e.member,
                e.ids.len(),
                e.seq,
                e.ids.iter().map(|i| i.short()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    if !report.ok() {
        std::process::exit(1);
    }
    Ok(())
}

pub fn reindex(ctx: &Context) -> Result<()> {
    let mut progress = crate::progress::Progress::new("indexing", ctx.quiet || ctx.json);
    let report = ctx.backend()?.reindex(&mut |d, t| progress.set(d, t))?;
    progress.finish();
    if ctx.json {
        return ctx.print_json(&report);
    }
    outln!(
        "indexed {} publications of {} records in {:.1}s; index size {:.1} MiB",
        report.indexed,
        report.records,
        report.seconds,
        report.index_bytes as f64 / 1_048_576.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
