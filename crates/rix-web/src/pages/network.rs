//! `/network`: the charter (its version, hash, genesis, threshold, members and observers) and
//! its versions, the connected peers with their gossip state, and each member's sync state.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use rix_api::{CharterLog, CharterView, PendingProposals, StatusView, describe_change};

use super::dashboard::sync_table;
use super::{Ctx, PageError};
use crate::Web;
use crate::i18n::Lang;

/// Everything the page shows.
struct Network {
    status: StatusView,
    charter: CharterView,
    log: CharterLog,
    pending: PendingProposals,
}

pub async fn page(State(web): State<Arc<Web>>, ctx: Ctx) -> Response {
    let l = ctx.lang;
    let body = async {
        let n = web
            .ask(|b| {
                Ok(Network {
                    status: b.status()?,
                    charter: b.charter(None)?,
                    log: b.charter_log()?,
                    pending: b.charter_pending()?,
                })
            })
            .await?;
        Ok::<_, PageError>(render(l, &n))
    }
    .await;
    ctx.respond(l.t("nav.network"), body)
}

fn render(l: Lang, n: &Network) -> Markup {
    let (s, c) = (&n.status, &n.charter);
    html! {
        h1 { (l.t("nav.network")) " " span.code { (s.network) } }
        dl.meta {
            dt { (l.t("net.this")) } dd {
                @match &s.member { Some(m) => span.member { (m) }, None => (l.t("net.observer_node")) }
                " · " code.id { (s.peer_id) }
            }
            dt { (l.t("net.version")) } dd #charter-version { "v" (c.version) }
            dt { (l.t("net.hash")) } dd { code.id { (c.hash) } }
            dt { (l.t("net.genesis")) } dd { code.id { (c.genesis) } }
            dt { (l.t("net.threshold")) } dd { (c.threshold) " / " (c.members.len()) }
            dt { (l.t("net.pending")) } dd { (n.pending.proposals.len()) }
        }
        section {
            h2 #members { (l.t("dash.members")) }
            div.scroll { table.data aria-labelledby="members" {
                thead { tr {
                    th scope="col" { (l.t("sync.member")) }
                    th scope="col" { (l.t("net.name")) }
                    th scope="col" { (l.t("net.key")) }
                    th scope="col" { (l.t("net.peer")) }
                    th scope="col" { (l.t("net.addresses")) }
                    th scope="col" .num { (l.t("net.joined")) }
                } }
                tbody { @for m in &c.members { tr {
                    th scope="row" { span.member { (m.code) } }
                    td { (m.name) }
                    td { code.id title=(m.public_key) { (m.public_key.get(..16).unwrap_or(&m.public_key)) "…" }
                        @if m.key_revoked { " " span.badge.warn { "revoked" } } }
                    td { code.id title=(m.peer_id) { (tail(&m.peer_id)) } }
                    td { @for a in &m.addresses { code { (a) } br; } }
                    td.num { "v" (m.joined) }
                } } }
            } }
            @if !c.observers.is_empty() {
                h3 { (l.t("net.observers")) }
                ul { @for o in &c.observers { li { (o.name) " · " code.id { (o.peer_id) } } } }
            }
        }
        section {
            h2 #peers { (l.t("net.peers")) }
            @if s.connected_peers.is_empty() { p.muted { (l.t("net.none")) } }
            @else {
                div.scroll { table.data aria-labelledby="peers" {
                    thead { tr {
                        th scope="col" { (l.t("net.role")) }
                        th scope="col" { (l.t("net.address")) }
                        th scope="col" { (l.t("net.gossip")) }
                        th scope="col" .num { (l.t("net.score")) }
                        th scope="col" { (l.t("sync.last")) }
                        th scope="col" .num { (l.t("net.fetched")) }
                    } }
                    tbody { @for p in &s.connected_peers { tr {
                        th scope="row" {
                            @match &p.member { Some(role) => (role.to_string()), None => "?" }
                            br; code.id title=(p.peer_id) { (tail(&p.peer_id)) }
                        }
                        td { @if let Some(a) = &p.address { code { (a) } } }
                        td {
                            (p.gossip_protocol.as_deref().unwrap_or("–"))
                            @if p.in_mesh { " · " (l.t("net.mesh")) }
                            @if p.gossip_subscribed { " · " (l.t("net.subscribed")) }
                        }
                        td.num { @if let Some(score) = p.gossip_score { (format!("{score:.1}")) } }
                        td { @match &p.last_sync { Some(t) => time datetime=(t) { (l.date_time(t)) }, None => (l.t("sync.never")) } }
                        td.num { (l.number(p.records_fetched)) }
                    } } }
                } }
            }
        }
        (sync_table(l, s, c))
        section {
            h2 { (l.t("net.log")) }
            ol.log reversed {
                @for v in n.log.versions.iter().rev() {
                    li value=(v.version) {
                        strong { "v" (v.version) } " " code.id { (v.hash.short()) }
                        @if let Some(t) = &v.effective_at { " · " (l.t("net.effective")) " " time datetime=(t) { (l.date_time(t)) } }
                        @if !v.approved_by.is_empty() {
                            " · " (l.t("net.approved")) " "
                            @for m in &v.approved_by { span.member { (m) } " " }
                        }
                        @if !v.changes.is_empty() { ul { @for change in &v.changes { li { (describe_change(change)) } } } }
                    }
                }
            }
        }
    }
}

/// The last 12 characters of a long identifier, after an ellipsis.
fn tail(id: &str) -> String {
    match id.char_indices().rev().nth(11) {
        Some((at, _)) if at > 0 => format!("…{}", &id[at..]),
        _ => id.to_owned(),
    }
}
