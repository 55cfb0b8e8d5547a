//! Publishing and querying records: `publish`, `withdraw`, `list`, `show`, `stats`.

use std::io::Write;

use anyhow::{Context as _, Result};
use rix_node::backend::DraftResolver;
use rix_record::Content;
use rix_record::file::read_record_file;

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
                    rix_record::file::DraftContent::Publication { publication, supersedes } =>
                        serde_json::json!({"publication": publication, "supersedes": format!("{supersedes:?}")}),
                    rix_record::file::DraftContent::Withdrawal { withdraws, reason } =>
                        serde_json::json!({"withdraws": format!("{withdraws:?}"), "reason": reason}),
                },
            }));
        }
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "dry_run": shown }));
        }
        for s in &shown {
            println!(
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
        resolver.note_published(&draft.path, view.id.parse().expect("views carry valid ids"));
        if !ctx.json {
            println!("published {} as {} #{} ({})", draft.path.display(), view.author, view.seq, &view.id[..12]);
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
    if config.config.member.as_ref().is_some_and(|m| m.as_str() != target.author) {
        anyhow::bail!("record {} is {}'s; only its author can withdraw it", &target.id[..12], target.author);
    }
    let content = Content::Withdrawal(rix_record::Withdrawal {
        withdraws: target.id.parse().expect("valid id"),
        reason: args.reason.clone(),
    });
    let view = backend.publish(content)?;
    if ctx.json {
        return ctx.print_json(&view);
    }
    println!(
        "withdrew {} ({}) with record {} #{} ({})",
        &target.id[..12],
        target.title,
        view.author,
        view.seq,
        &view.id[..12]
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
