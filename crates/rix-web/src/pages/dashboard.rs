//! `/`: the dashboard. Records held, peers, the charter version, each member's state on this
//! node (what is held, what is missing, when its node last synced), and the newest records.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use rix_api::{CharterView, RecordFilter, RecordList, StatusView};

use super::layout::record_item;
use super::{Ctx, PageError};
use crate::Web;
use crate::i18n::Lang;

/// How many of the newest records the dashboard lists.
const NEWEST: usize = 10;

pub async fn page(State(web): State<Arc<Web>>, ctx: Ctx) -> Response {
    let l = ctx.lang;
    let body = async {
        let (status, newest, charter) = web
            .ask(|b| {
                let newest = b.list(&RecordFilter { limit: Some(NEWEST), ..RecordFilter::default() })?;
                Ok((b.status()?, newest, b.charter(None)?))
            })
            .await?;
        let (stats, _) = web.stats(status.records).await?;
        Ok::<_, PageError>(render(l, &status, stats.publications, &newest, &charter))
    }
    .await;
    ctx.respond(l.t("nav.dashboard"), body)
}

fn render(l: Lang, status: &StatusView, publications: u64, newest: &RecordList, charter: &CharterView) -> Markup {
    html! {
        h1 { (l.t("nav.dashboard")) }
        p.lead { (l.t("net.network")) " " strong { (status.network) } " · " (l.t("net.this")) " "
            @match &status.member { Some(m) => strong.member { (m) }, None => (l.t("net.observer_node")) } }
        ul.cards {
            li { span.figure #records-held { (l.number(status.records)) } span { (l.t("dash.records")) } }
            li { span.figure { (l.number(publications)) } span { (l.t("dash.publications")) } }
            li { a href="/network" { span.figure #peers { (l.number(status.connected_peers.len() as u64)) } span { (l.t("dash.peers")) } } }
            li { a href="/network" { span.figure { "v" (charter.version) } span { (l.t("dash.charter")) } } }
        }
        (sync_table(l, status, charter))
        section {
            h2 { (l.t("dash.newest")) }
            ol.records {
                @for v in &newest.records { li { (record_item(l, v)) } }
            }
            p { a href="/records" { (l.t("dash.all")) " →" } }
        }
    }
}

/// Per member: records held, the highest sequence number, what is missing (the lag this node
/// knows of), and when a sync round with its node last completed.
pub fn sync_table(l: Lang, status: &StatusView, charter: &CharterView) -> Markup {
    html! {
        section {
            h2 #sync { (l.t("sync.title")) }
            div.scroll {
                table.data aria-labelledby="sync" {
                    thead { tr {
                        th scope="col" { (l.t("sync.member")) }
                        th scope="col" .num { (l.t("sync.held")) }
                        th scope="col" .num { (l.t("sync.highest")) }
                        th scope="col" .num { (l.t("sync.missing")) }
                        th scope="col" { (l.t("sync.last")) }
                    } }
                    tbody {
                        @for m in &charter.members {
                            @let chain = status.members.iter().find(|c| c.member == m.code);
                            @let missing: u64 = chain.map_or(0, |c| c.missing.iter().map(|(a, b)| b - a + 1).sum());
                            @let peer = status.connected_peers.iter().find(|p| p.peer_id == m.peer_id);
                            tr {
                                th scope="row" { a href={ "/records?member=" (m.code) } { span.member { (m.code) } } " " span.name { (m.name) } }
                                td.num { (l.number(chain.map_or(0, |c| c.held))) }
                                td.num { (l.number(chain.map_or(0, |c| c.max_seq))) }
                                td.num {
                                    @if missing == 0 { span.ok { (l.t("sync.uptodate")) } }
                                    @else { span.warn { (l.number(missing)) } }
                                }
                                td {
                                    @if status.member.as_ref() == Some(&m.code) { (l.t("net.this")) }
                                    @else {
                                        @match peer {
                                            Some(p) => {
                                                @match &p.last_sync {
                                                    Some(t) => time datetime=(t) { (l.date_time(t)) },
                                                    None => (l.t("sync.never")),
                                                }
                                            }
                                            None => span.muted { (l.t("sync.offline")) },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
