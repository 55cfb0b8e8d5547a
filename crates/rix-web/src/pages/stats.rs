//! `/stats`: the coverage heatmap (members × key factors, gaps visible), publications per
//! member over time and counts by kind, each as a picture with its figures as a table too.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use rix_api::StatsReport;
use rix_api::record::{KeyFactor, Timestamp};

use super::{Ctx, PageError};
use crate::Web;
use crate::i18n::Lang;
use crate::svg;

pub async fn page(State(web): State<Arc<Web>>, ctx: Ctx) -> Response {
    let l = ctx.lang;
    let body = async {
        let (stats, at) = web.stats(web.held().await?).await?;
        Ok::<_, PageError>(render(l, &stats, &at))
    }
    .await;
    ctx.respond(l.t("nav.stats"), body)
}

fn render(l: Lang, stats: &StatsReport, at: &Timestamp) -> Markup {
    html! {
        h1 { (l.t("nav.stats")) }
        p.muted { (l.t("stats.asof")) " " time datetime=(at) { (l.date_time(at)) } " · "
            (l.number(stats.publications)) " " (l.t("dash.publications")) }
        section #coverage {
            h2 { (l.t("stats.coverage")) }
            p { (l.t("stats.coverage.text")) }
            div.scroll { (svg::heatmap(l, stats)) }
            details {
                summary { (l.t("stats.table")) }
                div.scroll { table.data {
                    thead { tr {
                        th scope="col" { (l.t("sync.member")) }
                        @for f in KeyFactor::ALL { th scope="col" .num { (l.factor(*f)) } }
                    } }
                    tbody { @for row in &stats.members { tr {
                        th scope="row" { (row.member) }
                        @for f in KeyFactor::ALL { td.num.gap[row.on(*f) == 0] { (l.number(row.on(*f))) } }
                    } } }
                } }
            }
        }
        section #over-time {
            h2 { (l.t("stats.over_time")) }
            div.scroll { (svg::over_time(l, stats)) }
            details {
                summary { (l.t("stats.table")) }
                div.scroll { table.data {
                    thead { tr { th scope="col" { (l.t("sync.member")) } @for y in stats.by_year.keys() { th scope="col" .num { (y) } } } }
                    tbody { @for row in &stats.members { tr {
                        th scope="row" { (row.member) }
                        @for y in stats.by_year.keys() { td.num { (l.number(row.by_year.get(y).copied().unwrap_or(0))) } }
                    } } }
                } }
            }
        }
        section #kinds {
            h2 { (l.t("stats.by_kind")) }
            div.scroll { (svg::by_kind(l, stats)) }
        }
    }
}
