//! Moving records in and out, and checking them: `export`, `import`, `verify`.

use std::io::{BufWriter, Write};

use anyhow::{Context as _, Result};
use rix_api::record::pack::{PackReader, PackWriter};

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
        let format = match args.format {
            ExportFormat::Json => rix_export::Format::Json,
            ExportFormat::Jsonl => rix_export::Format::Jsonl,
            ExportFormat::Csv => rix_export::Format::Csv,
            ExportFormat::Md => rix_export::Format::Md,
            ExportFormat::Html => rix_export::Format::Html,
            ExportFormat::Signed => unreachable!("handled above"),
        };
        // Records arrive one at a time and are written as they come; only the Markdown and
        // HTML reports, which group records, hold them all.
        let mut exporter = rix_export::Exporter::start(format, &mut out, args.bom)?;
        let mut done = 0;
        backend.export_views(&filter, &mut |view| {
            exporter.push(view)?;
            done += 1;
            progress.set(done, done);
            Ok(())
        })?;
        exporter.finish()?;
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
