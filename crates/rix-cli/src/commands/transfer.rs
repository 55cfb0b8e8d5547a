//! Moving records in and out, and checking them: `export`, `import`, `verify`.

use std::io::{BufWriter, Write};

use anyhow::{Context as _, Result};
use rix_record::pack::{self, PackReader};
use rix_store::query::RecordView;

use super::{Context, filter_from};
use crate::cli::{ExportArgs, ExportFormat, ImportArgs};

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
        pack::write_header(&mut out)?;
        let mut done = 0;
        let count = backend.export_signed(&mut |envelope, total| {
            pack::write_entry(&mut out, envelope)?;
            done += 1;
            progress.set(done, total.max(done));
            Ok(())
        })?;
        count as usize
    } else {
        let views = backend.export_views(&filter_from(&args.filter)?)?;
        let total = views.len() as u64;
        match args.format {
            ExportFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "records": views }))?;
                writeln!(out)?;
            }
            ExportFormat::Jsonl => {
                for (i, v) in views.iter().enumerate() {
                    serde_json::to_writer(&mut out, v)?;
                    writeln!(out)?;
                    progress.set(i as u64 + 1, total);
                }
            }
            ExportFormat::Csv => write_csv(&views, args.bom, &mut out, &mut |d| progress.set(d, total))?,
            ExportFormat::Md => crate::report::markdown(&views, &mut out)?,
            ExportFormat::Html => crate::report::html(&views, &mut out)?,
            ExportFormat::Signed => unreachable!("handled above"),
        }
        progress.set(total, total);
        views.len()
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

fn write_csv(views: &[RecordView], bom: bool, out: &mut dyn Write, progress: &mut dyn FnMut(u64)) -> Result<()> {
    if bom {
        out.write_all("\u{feff}".as_bytes())?;
    }
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
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
    ])?;
    for (i, v) in views.iter().enumerate() {
        w.write_record([
            v.id.as_str(),
            &v.author,
            &v.seq.to_string(),
            &v.kind,
            &v.title,
            &v.summary,
            &v.language,
            &v.factors.join("; "),
            &v.approaches.join("; "),
            &v.stages.join("; "),
            &v.themes.join("; "),
            &v.tags.join("; "),
            &v.created_at,
            v.supersedes.as_deref().unwrap_or(""),
            v.superseded_by.as_deref().unwrap_or(""),
            if v.withdrawn { "true" } else { "false" },
            v.body.as_deref().unwrap_or(""),
        ])?;
        progress(i as u64 + 1);
    }
    w.flush()?;
    Ok(())
}

pub fn import(ctx: &Context, args: &ImportArgs) -> Result<()> {
    let file = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let reader = PackReader::new(std::io::BufReader::new(file)).with_context(|| format!("{}", args.file.display()))?;
    let envelopes = reader.collect::<Result<Vec<_>, _>>().with_context(|| format!("{}", args.file.display()))?;
    let mut progress = crate::progress::Progress::new("importing", ctx.quiet || ctx.json);
    let report = ctx.backend()?.import(envelopes, &mut |d, t| progress.set(d, t))?;
    progress.finish();
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        println!(
            "read {}: {} stored, {} already held, {} equivocations kept as evidence, {} rejected",
            report.read,
            report.stored,
            report.duplicates,
            report.equivocations,
            report.rejected.len()
        );
        for r in &report.rejected {
            println!("  rejected #{} ({}): {}", r.index, &r.id[..12], r.error);
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
        println!("checked {} records: {} valid, {} failed", report.checked, report.valid, report.failures.len());
        for f in &report.failures {
            println!("  FAILED {}: {}", &f.id[..12], f.error);
        }
        for c in &report.chains {
            let mut line = format!(
                "  {:<6} {} records, contiguous to #{}, highest #{}",
                c.member, c.held, c.contiguous, c.max_seq
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
                line.push_str(&format!("; #{seq} ({}) links to a record not held", &id[..12]));
            }
            println!("{line}");
        }
        for e in &report.equivocations {
            println!(
                "  EQUIVOCATION: {} signed {} different records with seq {}: {}",
                e.member,
                e.ids.len(),
                e.seq,
                e.ids.iter().map(|i| &i[..12]).collect::<Vec<_>>().join(", ")
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
    println!(
        "indexed {} publications of {} records in {:.1}s; index size {:.1} MiB",
        report.indexed,
        report.records,
        report.seconds,
        report.index_bytes as f64 / 1_048_576.0
    );
    Ok(())
}
