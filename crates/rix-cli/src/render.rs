//! Output for people: aligned tables truncated to the terminal, and the human form of records
//! and reports. Scripts use `--json`, which bypasses all of this.

use std::io::{IsTerminal, Write};

use rix_api::record::KeyFactor;
use rix_api::{RecordView, StatsReport};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A table whose last flexible column shrinks (with an ellipsis) to fit the terminal.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    flexible: usize,
}

impl Table {
    /// A table; `flexible` is the column that gives way when the terminal is narrow.
    pub fn new(headers: &[&str], flexible: usize) -> Self {
        Self { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: vec![], flexible }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the table, fitted to the terminal width when stdout is a terminal.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.width());
            }
        }
        if let Some(term) = terminal_width() {
            let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
            if total > term {
                let excess = total - term;
                let w = &mut widths[self.flexible];
                *w = (*w).saturating_sub(excess).max(8);
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                let cell = truncate(cell, *w);
                s.push_str(&cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(w - cell.width() + 2));
                }
            }
            s.trim_end().to_owned()
        };
        writeln!(out, "{}", line(&self.headers))?;
        for row in &self.rows {
            writeln!(out, "{}", line(row))?;
        }
        Ok(())
    }
}

fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| w.0 as usize)
}

/// Cuts `s` to at most `width` columns, ending in `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.width() <= width {
        return s;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The `rix list` table.
pub fn record_table(records: &[RecordView], out: &mut impl Write) -> std::io::Result<()> {
    if records.is_empty() {
        return writeln!(out, "No records match.");
    }
    let mut t = Table::new(&["ID", "MEMBER", "KIND", "DATE", "LANG", "FACTORS", "TITLE"], 6);
    for r in records {
        let mut title = r.title.clone();
        if r.withdrawn {
            title = format!("[withdrawn] {title}");
        } else if r.superseded_by.is_some() {
            title = format!("[superseded] {title}");
        }
        t.row(vec![
            r.id.short(),
            r.author.to_string(),
            r.kind.to_string(),
            r.created_at.date().to_string(),
            r.language.clone(),
            join(&r.factors, ","),
            title,
        ]);
    }
    t.print(out)?;
    writeln!(out, "{} record{}", records.len(), if records.len() == 1 { "" } else { "s" })
}

/// The `rix show` text.
pub fn record_detail(r: &RecordView, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{}", r.title)?;
    writeln!(out, "{}", "=".repeat(r.title.width().min(80)))?;
    let field = |out: &mut dyn Write, name: &str, value: &str| -> std::io::Result<()> {
        if value.is_empty() { Ok(()) } else { writeln!(out, "{name:<14}{value}") }
    };
    let optional = |v: &Option<rix_api::record::RecordId>| v.map(|id| id.to_string()).unwrap_or_default();
    field(out, "id", &r.id.to_string())?;
    field(out, "author", &format!("{} (record {})", r.author, r.seq))?;
    field(out, "kind", r.kind.slug())?;
    field(out, "language", &r.language)?;
    field(out, "created", &r.created_at.to_string())?;
    field(out, "key factors", &join(&r.factors, ", "))?;
    field(out, "approaches", &join(&r.approaches, ", "))?;
    field(out, "stages", &join(&r.stages, ", "))?;
    field(out, "themes", &join(&r.themes, ", "))?;
    field(out, "tags", &r.tags.join(", "))?;
    if let Some(p) = &r.period {
        let to = p.to.map(|d| d.to_string()).unwrap_or_default();
        field(out, "period", &format!("{} – {to}", p.from))?;
    }
    field(out, "contact", r.contact_unit.as_deref().unwrap_or(""))?;
    field(out, "supersedes", &optional(&r.supersedes))?;
    field(out, "withdraws", &optional(&r.withdraws))?;
    field(out, "related", &join(&r.related, ", "))?;
    if let Some(newer) = &r.superseded_by {
        writeln!(out, "\nThis version is superseded by {newer}; `rix show {}` for the current one.", newer.short())?;
    }
    if let Some(w) = &r.withdrawal {
        writeln!(out, "\nWITHDRAWN on {} ({}): {}", w.created_at.date(), w.id.short(), w.reason)?;
    }
    if !r.summary.is_empty() {
        writeln!(out, "\n{}", r.summary)?;
    }
    if let Some(details) = &r.details {
        writeln!(out, "\n{}", serde_json::to_string_pretty(details).unwrap_or_default())?;
    }
    if let Some(body) = r.body.as_deref().filter(|b| !b.is_empty()) {
        writeln!(out, "\n{}", body.trim_end())?;
    }
    Ok(())
}

/// The `rix search` text: rank, title, metadata and a snippet with the matches highlighted.
pub fn search_results(results: &rix_api::SearchResults, out: &mut impl Write) -> std::io::Result<()> {
    if results.records.is_empty() {
        return writeln!(out, "No records match {:?}.", results.query);
    }
    let tty = std::io::stdout().is_terminal();
    let (on, off) = if tty { ("\x1b[1;33m", "\x1b[0m") } else { ("**", "**") };
    for (i, hit) in results.records.iter().enumerate() {
        let r = &hit.record;
        writeln!(out, "{:>2}. {}", i + 1, r.title)?;
        writeln!(
            out,
            "    {} · {} · {} · {} · {} (score {:.2})",
            r.author,
            r.kind,
            r.created_at.date(),
            r.language,
            r.id.short(),
            hit.score
        )?;
        let mut snippet = String::new();
        let mut at = 0;
        for &(from, to) in &hit.highlights {
            if from < at
                || to > hit.snippet.len()
                || !hit.snippet.is_char_boundary(from)
                || !hit.snippet.is_char_boundary(to)
            {
                continue;
            }
            snippet.push_str(&hit.snippet[at..from]);
            snippet.push_str(on);
            snippet.push_str(&hit.snippet[from..to]);
            snippet.push_str(off);
            at = to;
        }
        snippet.push_str(&hit.snippet[at..]);
        let snippet = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
        if !snippet.is_empty() {
            writeln!(out, "    …{snippet}…")?;
        }
    }
    let shown = results.records.len();
    writeln!(out, "{shown} shown of {} matching", results.total.max(shown))
}

/// Short column names for the ten key factors.
pub fn factor_abbrev(factor: KeyFactor) -> &'static str {
    match factor {
        KeyFactor::Leadership => "LEAD",
        KeyFactor::RegulatoryFramework => "REG",
        KeyFactor::Transparency => "TRANSP",
        KeyFactor::Automation => "AUTO",
        KeyFactor::ReformModernization => "REFORM",
        KeyFactor::AuditInvestigation => "AUDIT",
        KeyFactor::CodeOfConduct => "CODE",
        KeyFactor::Hrm => "HRM",
        KeyFactor::MoraleCulture => "MORALE",
        KeyFactor::PrivateSector => "PRIVATE",
    }
}

/// The `rix stats` text.
pub fn stats(report: &StatsReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} records stored: {} current publications, {} superseded versions, {} withdrawn, {} withdrawal records\n",
        report.records_stored, report.publications, report.superseded, report.withdrawn, report.withdrawals
    )?;
    writeln!(out, "Publications per member and key factor (a record counts once for each of its factors):")?;
    let mut headers = vec!["MEMBER"];
    headers.extend(report.factors.iter().map(|f| factor_abbrev(*f)));
    headers.push("RECORDS");
    let mut t = Table::new(&headers, 0);
    let cell = |n: u64| {
        if n == 0 { "·".to_owned() } else { n.to_string() }
    };
    for m in &report.members {
        let mut row = vec![m.member.to_string()];
        row.extend(report.factors.iter().map(|f| cell(m.on(*f))));
        row.push(m.publications.to_string());
        t.row(row);
    }
    let mut total = vec!["TOTAL".to_owned()];
    total.extend(report.factors.iter().map(|f| cell(report.factor_totals.get(f.slug()).copied().unwrap_or(0))));
    total.push(report.publications.to_string());
    t.row(total);
    t.print(out)?;
    writeln!(
        out,
        "\nKey factors: {}",
        report.factors.iter().map(|f| format!("{}={f}", factor_abbrev(*f))).collect::<Vec<_>>().join(" ")
    )?;

    writeln!(out, "\nBy kind:")?;
    for (kind, n) in &report.by_kind {
        writeln!(out, "  {kind:<20}{n:>6}")?;
    }
    writeln!(out, "\nBy year:")?;
    for (year, n) in &report.by_year {
        writeln!(out, "  {year:<20}{n:>6}")?;
    }
    writeln!(out, "\nNewest record per member:")?;
    let mut t = Table::new(&["  MEMBER", "DATE", "ID", "TITLE"], 3);
    for m in &report.members {
        match &m.newest {
            Some(n) => {
                t.row(vec![format!("  {}", m.member), n.created_at.date().to_string(), n.id.short(), n.title.clone()])
            }
            None => t.row(vec![format!("  {}", m.member), "-".into(), "-".into(), "(nothing published)".into()]),
        }
    }
    t.print(out)?;
    writeln!(out, "\nCoverage gaps (key factors a member has published nothing on):")?;
    for m in &report.members {
        if m.missing_factors.is_empty() {
            writeln!(out, "  {:<8}none", m.member.as_str())?;
        } else if m.missing_factors.len() == report.factors.len() {
            writeln!(out, "  {:<8}all ten", m.member.as_str())?;
        } else {
            writeln!(out, "  {:<8}{}", m.member.as_str(), join(&m.missing_factors, ", "))?;
        }
    }
    Ok(())
}

/// Terms, ids or codes written with `sep` between them.
pub fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
        // CJK characters are two columns wide.
        let t = truncate("腐敗防止の取り組み", 7);
        assert!(t.width() <= 7, "{t}");
        assert!(t.ends_with('…'));
    }
}
