//! Publishing and querying records: `publish`, `withdraw`, `list`, `show`, `stats`.

use std::io::Write;

use anyhow::{Context as _, Result};
use rix_api::record::Content;
use rix_api::record::file::read_record_file;
use rix_node::drafts::DraftResolver;

use super::{Context, filter_from};
use crate::cli::{ListArgs, PublishArgs, ShowArgs, WithdrawArgs};
use crate::render;

pub fn publish(ctx: &Context, args: &PublishArgs) -> Result<()> {
    // Parse every file first, so one bad file stops the run before anything is signed.
    let drafts = args.files.iter().map(|f| read_record_file(f)).collect::<Result<Vec<_>, _>>()?;
    if args.dry_run {
        let mut shown = Vec::new();
        for draft in &drafts {
            shown.push(serde_json::json!({
                "file": draft.path,
                "valid": true,
                "content": match &draft.content {
                    rix_api::record::file::DraftContent::Publication { publication, supersedes } =>
                        serde_json::json!({"publication": publication, "supersedes": supersedes.as_ref().map(ToString::to_string)}),
                    rix_api::record::file::DraftContent::Withdrawal { withdraws, reason } =>
                        serde_json::json!({"withdraws": withdraws.to_string(), "reason": reason}),
                },
            }));
        }
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "dry_run": shown }));
        }
        for s in &shown {
            outln!(
                "{}: valid; would sign:\n{}",
                s["file"].as_str().unwrap_or(""),
                serde_json::to_string_pretty(&s["content"])?
            );
        }
        return Ok(());
    }
    let config = ctx.load_config()?;
    let backend = ctx.backend()?;
    let mut resolver = DraftResolver::new(backend.as_ref(), config.config.member.clone());
    let mut published = Vec::new();
    for draft in &drafts {
        let content = resolver.content(draft).with_context(|| format!("{}", draft.path.display()))?;
        let view = backend.publish(content).with_context(|| format!("publishing {}", draft.path.display()))?;
        resolver.note_published(&draft.path, view.id);
        if !ctx.json {
            outln!("published {} as {} #{} ({})", draft.path.display(), view.author, view.seq, view.id.short());
        }
        published.push(view);
    }
    if ctx.json {
        match published.as_slice() {
            [one] => ctx.print_json(one)?,
            many => ctx.print_json(&many)?,
        }
    }
    Ok(())
}

pub fn withdraw(ctx: &Context, args: &WithdrawArgs) -> Result<()> {
    let backend = ctx.backend()?;
    let target = backend.show(&args.id)?;
    let config = ctx.load_config()?;
    if config.config.member.as_ref().is_some_and(|m| *m != target.author) {
        anyhow::bail!("record {} is {}'s; only its author can withdraw it", target.id.short(), target.author);
    }
    let content =
        Content::Withdrawal(rix_api::record::Withdrawal { withdraws: target.id, reason: args.reason.clone() });
    let view = backend.publish(content)?;
    if ctx.json {
        return ctx.print_json(&view);
    }
    outln!(
        "withdrew {} ({}) with record {} #{} ({})",
        target.id.short(),
        target.title,
        view.author,
        view.seq,
        view.id.short()
    );
    Ok(())
}

pub fn list(ctx: &Context, args: &ListArgs) -> Result<()> {
    let filter = filter_from(&args.filter)?;
    let list = ctx.backend()?.list(&filter)?;
    if ctx.json {
        return ctx.print_json(&list);
    }
    render::record_table(&list.records, &mut std::io::stdout().lock())?;
    Ok(())
}

pub fn show(ctx: &Context, args: &ShowArgs) -> Result<()> {
    let view = ctx.backend()?.show(&args.id)?;
    if ctx.json {
        return ctx.print_json(&view);
    }
    render::record_detail(&view, &mut std::io::stdout().lock())?;
    Ok(())
}

pub fn stats(ctx: &Context) -> Result<()> {
    let report = ctx.backend()?.stats()?;
    if ctx.json {
        return ctx.print_json(&report);
    }
    let mut out = std::io::stdout().lock();
    render::stats(&report, &mut out)?;
    out.flush()?;
    Ok(())
}

pub fn search(ctx: &Context, args: &crate::cli::SearchArgs) -> Result<()> {
    let mut filter = filter_from(&args.filter)?;
    filter.limit = filter.limit.or(Some(20));
    let query = rix_api::SearchQuery { text: args.query.join(" "), filter };
    let results = ctx.backend()?.search(&query)?;
    if ctx.json {
        return ctx.print_json(&results);
    }
    render::search_results(&results, &mut std::io::stdout().lock())?;
    Ok(())
}

pub fn history(ctx: &Context, args: &ShowArgs) -> Result<()> {
    let versions = ctx.backend()?.history(&args.id)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "records": versions }));
    }
    let mut t = render::Table::new(&["VERSION", "DATE", "ID", "STATUS", "TITLE"], 4);
    for (i, v) in versions.iter().enumerate() {
        let status = if v.withdrawn {
            "withdrawn"
        } else if v.superseded_by.is_some() {
            "superseded"
        } else {
            "current"
        };
        t.row(vec![(i + 1).to_string(), v.created_at.date().to_string(), v.id.short(), status.into(), v.title.clone()]);
    }
    t.print(&mut std::io::stdout().lock())?;
    Ok(())
}

pub fn new(ctx: &Context, args: &crate::cli::NewArgs) -> Result<()> {
    let text = rix_api::record::template::template(args.kind);
    match &args.out {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
            std::io::Write::write_all(&mut file, text.as_bytes())?;
            ctx.note(format!(
                "wrote a {} template to {}; edit it, then `rix publish --dry-run {}`",
                args.kind,
                path.display(),
                path.display()
            ));
        }
        None => print!("{text}"),
    }
    Ok(())
}
