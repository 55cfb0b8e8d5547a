//! The statistics as pictures: inline SVG drawn on the server, styled by classes of the
//! stylesheet (the Content-Security-Policy allows no inline style). Each picture has a title
//! and every mark a `<title>` for screen readers and tooltips; the page also gives the same
//! figures as tables.

use maud::{Markup, html};
use rix_api::StatsReport;
use rix_api::record::{KeyFactor, Kind};

use crate::i18n::Lang;

/// The colour class of a heatmap cell: `gap` for none, then four steps.
fn heat_class(n: u64) -> &'static str {
    match n {
        0 => "gap",
        1 => "h1",
        2..=3 => "h2",
        4..=6 => "h3",
        _ => "h4",
    }
}

/// Members × key factors, one cell per pair, empty cells (gaps) outlined and marked.
pub fn heatmap(l: Lang, stats: &StatsReport) -> Markup {
    const CELL_W: usize = 56;
    const CELL_H: usize = 30;
    const LEFT: usize = 56;
    const TOP: usize = 150;
    // Room on the right for the last columns' slanted labels.
    let width = LEFT + CELL_W * KeyFactor::ALL.len() + 130;
    let height = TOP + CELL_H * stats.members.len().max(1) + 8;
    html! {
        svg.chart.heatmap viewBox={ "0 0 " (width) " " (height) } role="img" aria-labelledby="heatmap-title" {
            title #heatmap-title { (l.t("stats.coverage")) }
            @for (j, f) in KeyFactor::ALL.iter().enumerate() {
                @let x = LEFT + CELL_W * j + CELL_W / 2;
                text.axis x=(x) y=(TOP - 8) transform={ "rotate(-45 " (x) " " (TOP - 8) ")" } { (short(l.factor(*f), 24)) }
            }
            @for (i, row) in stats.members.iter().enumerate() {
                @let y = TOP + CELL_H * i;
                a href={ "/records?member=" (row.member) } {
                    text.axis.member x=(LEFT - 8) y=(y + CELL_H / 2 + 5) text-anchor="end" { (row.member) }
                }
                @for (j, f) in KeyFactor::ALL.iter().enumerate() {
                    @let n = row.on(*f);
                    @let x = LEFT + CELL_W * j;
                    a href={ "/records?member=" (row.member) "&factor=" (f.slug()) } {
                        rect class=(heat_class(n)) x=(x + 1) y=(y + 1) width=(CELL_W - 2) height=(CELL_H - 2) rx="3" {
                            title { (row.member) " · " (l.factor(*f)) ": " @if n == 0 { (l.t("stats.gap")) } @else { (l.number(n)) } }
                        }
                        text.cell x=(x + CELL_W / 2) y=(y + CELL_H / 2 + 5) text-anchor="middle" {
                            @if n == 0 { "–" } @else { (l.number(n)) }
                        }
                    }
                }
            }
        }
    }
}

/// Publications per member per year: one row of bars per member, on one scale.
pub fn over_time(l: Lang, stats: &StatsReport) -> Markup {
    let years: Vec<&String> = stats.by_year.keys().collect();
    let max = stats.members.iter().flat_map(|m| m.by_year.values()).copied().max().unwrap_or(0).max(1);
    const ROW_H: usize = 44;
    const LEFT: usize = 56;
    const COL_W: usize = 48;
    // At least the width of ten years, so that one year of data is not drawn huge.
    let width = LEFT + COL_W * years.len().max(10) + 8;
    let height = ROW_H * stats.members.len().max(1) + 28;
    html! {
        svg.chart.time viewBox={ "0 0 " (width) " " (height) } role="img" aria-labelledby="time-title" {
            title #time-title { (l.t("stats.over_time")) }
            @for (i, row) in stats.members.iter().enumerate() {
                @let base = ROW_H * (i + 1);
                text.axis.member x=(LEFT - 8) y=(base - 4) text-anchor="end" { (row.member) }
                line.baseline x1=(LEFT) x2=(LEFT + COL_W * years.len().max(1)) y1=(base) y2=(base) {}
                @for (j, year) in years.iter().enumerate() {
                    @let n = row.by_year.get(*year).copied().unwrap_or(0);
                    @let h = (n as usize * (ROW_H - 8)).div_ceil(max as usize);
                    @if n > 0 {
                        rect.bar x=(LEFT + COL_W * j + 8) y=(base - h) width=(COL_W - 16) height=(h) {
                            title { (row.member) " · " (year) ": " (l.number(n)) }
                        }
                    }
                }
            }
            @for (j, year) in years.iter().enumerate() {
                text.axis x=(LEFT + COL_W * j + COL_W / 2) y=(height - 8) text-anchor="middle" { (year) }
            }
        }
    }
}

/// Publications per kind, as horizontal bars.
pub fn by_kind(l: Lang, stats: &StatsReport) -> Markup {
    const ROW_H: usize = 28;
    const LEFT: usize = 230;
    const BAR_W: usize = 300;
    let counts: Vec<(Kind, u64)> =
        Kind::ALL.iter().map(|k| (*k, stats.by_kind.get(k.slug()).copied().unwrap_or(0))).collect();
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let height = ROW_H * counts.len() + 8;
    html! {
        svg.chart.kinds viewBox={ "0 0 " (LEFT + BAR_W + 70) " " (height) } role="img" aria-labelledby="kinds-title" {
            title #kinds-title { (l.t("stats.by_kind")) }
            @for (i, (kind, n)) in counts.iter().enumerate() {
                @let y = ROW_H * i + 4;
                @let w = (*n as usize * BAR_W).div_ceil(max as usize);
                a href={ "/records?kind=" (kind.slug()) } {
                    text.axis x=(LEFT - 8) y=(y + ROW_H / 2 + 4) text-anchor="end" { (short(l.kind(*kind), 28)) }
                    rect.bar x=(LEFT) y=(y + 4) width=(w) height=(ROW_H - 8) { title { (l.kind(*kind)) ": " (l.number(*n)) } }
                    text.value x=(LEFT + w + 6) y=(y + ROW_H / 2 + 4) { (l.number(*n)) }
                }
            }
        }
    }
}

/// At most `chars` characters, with an ellipsis if cut.
fn short(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(chars - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rix_api::MemberStats;

    #[test]
    fn gaps_are_drawn_as_gaps_and_counts_as_counts() {
        let mut kz = MemberStats::new("KZ".parse().unwrap());
        kz.by_factor.insert("hrm".into(), 5);
        kz.by_year.insert("2024".into(), 5);
        let stats = StatsReport {
            members: vec![kz, MemberStats::new("JP".parse().unwrap())],
            by_year: [("2024".to_owned(), 5)].into(),
            by_kind: [("event".to_owned(), 5)].into(),
            ..StatsReport::default()
        };
        let svg = heatmap(Lang::En, &stats).into_string();
        assert_eq!(svg.matches("class=\"gap\"").count(), 19, "9 of KZ's cells and all 10 of JP's");
        assert_eq!(svg.matches("class=\"h3\"").count(), 1);
        assert!(svg.contains("KZ · Human Resource Management: 5"));
        let time = over_time(Lang::Ru, &stats).into_string();
        assert_eq!(time.matches("<rect").count(), 1);
        // SVG inside HTML has no void elements: an unclosed <line> would swallow what follows.
        assert_eq!(time.matches("<line").count(), time.matches("</line>").count());
        let kinds = by_kind(Lang::Zh, &stats).into_string();
        assert!(kinds.contains("活动: 5"));
        assert_eq!(short("Relationship with the Private Sector", 10), "Relations…");
    }
}
