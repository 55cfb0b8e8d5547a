//! Queries over a [`Replica`]: filtered listings, the views of records, statistics and history.
//!
//! The shapes are `rix-api`'s (the contract `docs/cli.md` promises to scripts); this module is
//! the one mapping from stored records to them, used by every backend: the offline CLI, a node
//! running in this process and the daemon's API.

use std::collections::{BTreeMap, HashSet};

pub use rix_api::filter::language_matches;
pub use rix_api::{
    Detail, MemberStats, NewestRecord, RecordFilter, RecordKind, RecordList, RecordView, StatsReport, WithdrawalView,
};
use rix_record::{Content, KeyFactor, MemberCode, RecordId, Timestamp, VerifiedRecord};
use serde::Serialize;

use crate::error::StoreError;
use crate::keys;
use crate::replica::{Facet, Replica, StoredRecord, id_from};

/// Whether a stored record passes `filter`: a publication, or a withdrawal record if the filter
/// asks for those and filters on nothing they lack (kind, key factor, language).
pub fn admits(filter: &RecordFilter, stored: &StoredRecord) -> bool {
    let r = stored.record.record();
    let Some(p) = r.publication() else {
        return filter.include_withdrawals
            && filter.kind.is_none()
            && filter.factor.is_none()
            && filter.language.is_none()
            && filter.member.as_ref().is_none_or(|m| &r.author == m)
            && filter.since.is_none_or(|t| r.created_at >= t);
    };
    filter.kind.is_none_or(|k| p.kind == k)
        && filter.member.as_ref().is_none_or(|m| &r.author == m)
        && filter.factor.is_none_or(|f| p.factors.contains(&f))
        && filter.since.is_none_or(|t| r.created_at >= t)
        && filter.language.as_ref().is_none_or(|l| language_matches(p.language.as_str(), l))
        && (filter.all_versions || stored.superseded_by.is_none())
        && (filter.include_withdrawn || stored.withdrawn_by.is_none())
}

/// The view of a stored record: the one mapping every backend uses.
pub fn view(stored: &StoredRecord, detail: Detail) -> RecordView {
    let r = stored.record.record();
    let withdrawal = stored.withdrawn_by.as_ref().map(|w| WithdrawalView {
        id: w.id(),
        reason: w.record().withdrawal().map(|w| w.reason.clone()).unwrap_or_default(),
        created_at: w.record().created_at,
    });
    let mut view = RecordView {
        id: stored.record.id(),
        author: r.author.clone(),
        seq: r.seq,
        prev: r.prev,
        kind: RecordKind::Withdrawal,
        title: String::new(),
        summary: String::new(),
        language: String::new(),
        factors: vec![],
        approaches: vec![],
        stages: vec![],
        themes: vec![],
        tags: vec![],
        created_at: r.created_at,
        supersedes: None,
        superseded_by: stored.superseded_by,
        withdrawn: withdrawal.is_some(),
        withdrawal,
        withdraws: None,
        period: None,
        contact_unit: None,
        related: vec![],
        body: None,
        details: None,
    };
    match &r.content {
        Content::Publication(p) => {
            view.kind = RecordKind::Publication(p.kind);
            view.title = p.title.clone();
            view.summary = p.summary.clone();
            view.language = p.language.to_string();
            view.factors = p.factors.clone();
            view.approaches = p.approaches.clone();
            view.stages = p.stages.clone();
            view.themes = p.themes.clone();
            view.tags = p.tags.clone();
            view.supersedes = p.supersedes;
            view.period = p.period.clone();
            view.contact_unit = p.contact_unit.clone();
            view.related = p.related.clone();
            if detail == Detail::Full {
                view.body = Some(p.body.clone());
                view.details = kind_section(p);
            }
        }
        Content::Withdrawal(w) => {
            view.title = format!("Withdrawal of {}", w.withdraws.short());
            view.summary = w.reason.clone();
            view.withdraws = Some(w.withdraws);
            if detail == Detail::Full {
                view.body = Some(String::new());
            }
        }
    }
    view
}

fn kind_section(p: &rix_record::Publication) -> Option<serde_json::Value> {
    fn json<T: Serialize>(section: &Option<T>) -> Option<serde_json::Value> {
        section.as_ref().map(|s| serde_json::to_value(s).expect("sections serialise"))
    }
    json(&p.best_practice)
        .or_else(|| json(&p.integrity_strategy))
        .or_else(|| json(&p.case_study))
        .or_else(|| json(&p.action_plan))
        .or_else(|| json(&p.code_of_conduct))
        .or_else(|| json(&p.event))
        .or_else(|| json(&p.self_assessment))
}

impl Replica {
    /// Stored records that pass `filter`, newest first.
    pub fn select(&self, filter: &RecordFilter) -> Result<Vec<StoredRecord>, StoreError> {
        let mut out = Vec::new();
        self.select_each(filter, |stored| {
            out.push(stored);
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// [`Replica::select`] one record at a time: each is read, handed to `each` and dropped, so
    /// an export of any size holds one record. Returns how many were handed over.
    pub fn select_each<E: From<StoreError>>(
        &self,
        filter: &RecordFilter,
        mut each: impl FnMut(StoredRecord) -> Result<(), E>,
    ) -> Result<u64, E> {
        let limit = filter.limit.map_or(u64::MAX, |l| l as u64);
        let admitted = |id: &RecordId| -> Result<Option<StoredRecord>, StoreError> {
            let Some(record) = self.get(id)? else { return Ok(None) };
            if record.record().publication().is_none() && !filter.include_withdrawals {
                return Ok(None);
            }
            let stored = self.stored(record)?;
            Ok(admits(filter, &stored).then_some(stored))
        };
        let mut handed = 0;
        if let Some(member) = &filter.member {
            // The author index is in sequence order, listings in time order: note when each
            // admitted record was created (40 bytes apiece), sort, then read them in order.
            // Taken with a kind or factor filter too: a facet's time index holds every member's
            // records, and a member that published long ago would have its records behind all
            // the others' (on 100,000 records, member + factor took 0.8 s that way, not 10 ms).
            let mut found = Vec::new();
            for id in self.author_ids_newest_first(member) {
                if found.len() as u64 >= limit {
                    break;
                }
                let id = id?;
                if let Some(stored) = admitted(&id)? {
                    found.push((stored.record.record().created_at, id));
                }
            }
            found.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
            for (_, id) in found {
                if let Some(stored) = admitted(&id)? {
                    each(stored)?;
                    handed += 1;
                }
            }
            return Ok(handed);
        }
        let facet = match (&filter.kind, &filter.factor) {
            (Some(k), _) => Some(Facet::Kind(k.slug())),
            (None, Some(f)) => Some(Facet::Factor(f.slug())),
            (None, None) => None,
        };
        for id in self.ids_newest_first(facet) {
            if handed >= limit {
                break;
            }
            if let Some(stored) = admitted(&id?)? {
                each(stored)?;
                handed += 1;
            }
        }
        Ok(handed)
    }

    /// The `list` view.
    pub fn list(&self, filter: &RecordFilter) -> Result<RecordList, StoreError> {
        let records = self.select(filter)?.iter().map(|s| view(s, Detail::Summary)).collect();
        Ok(RecordList { records })
    }

    /// The `show` view of the record a full id or unique prefix names.
    pub fn show(&self, id_or_prefix: &str) -> Result<RecordView, StoreError> {
        let id = self.resolve(id_or_prefix)?;
        let record = self.get(&id)?.ok_or_else(|| StoreError::NotFound(id.to_hex()))?;
        Ok(view(&self.stored(record)?, Detail::Full))
    }

    /// Statistics over current, non-withdrawn publications. `members` lists every member of the
    /// charter, so members that have published nothing still get a row.
    ///
    /// Computed from the index entries alone (chain, links, time index with its facets), then
    /// one record read per member for its newest title: records are never decoded in bulk.
    /// On a million records this took 4-6 s against 25 s for reading every record, and it leaves
    /// no record pages in sled's cache (docs/performance.md).
    pub fn stats(&self, members: &[MemberCode]) -> Result<StatsReport, StoreError> {
        let mut report =
            StatsReport { records_stored: self.len()?, factors: KeyFactor::ALL.to_vec(), ..StatsReport::default() };
        let mut rows: BTreeMap<String, MemberStats> =
            members.iter().map(|m| (m.to_string(), MemberStats::new(m.clone()))).collect();
        let authors = AuthorsById::read(self)?;
        // A record is superseded or withdrawn only by a record of its own author; other claims
        // are ignored, as in `Replica::stored`.
        let own_claims = |prefix: u8| -> Result<HashSet<RecordId>, StoreError> {
            let mut targets = HashSet::new();
            for entry in self.entries(prefix) {
                let (target, by) = keys::link_ids(&entry?.0);
                if authors.of(&target).is_some_and(|a| authors.of(&by) == Some(a)) {
                    targets.insert(target);
                }
            }
            Ok(targets)
        };
        let (superseded, withdrawn) = (own_claims(keys::SUPERSEDES)?, own_claims(keys::WITHDRAWS)?);
        // Per author: the creation time and id of the newest current publication. Ascending
        // (time, id) order and a strict comparison keep the lowest id among equal times.
        let mut newest: BTreeMap<String, (i64, RecordId)> = BTreeMap::new();
        for entry in self.entries(keys::TIME) {
            let (key, facets) = entry?;
            if facets.is_empty() {
                report.withdrawals += 1;
                continue;
            }
            let id = keys::trailing_id(&key);
            if withdrawn.contains(&id) {
                report.withdrawn += 1;
                continue;
            }
            if superseded.contains(&id) {
                report.superseded += 1;
                continue;
            }
            let author = match authors.of(&id) {
                Some(author) => author.to_owned(),
                // Every stored record has a chain entry; read the record if one is missing.
                None => match self.get(&id)? {
                    Some(record) => record.record().author.to_string(),
                    None => continue,
                },
            };
            let created = keys::time_of(&key);
            let mut slugs = facets.split(|b| *b == 0).filter(|s| !s.is_empty()).map(String::from_utf8_lossy);
            let kind = slugs.next().unwrap_or_default();
            report.publications += 1;
            *report.by_kind.entry(kind.into_owned()).or_default() += 1;
            let year = Timestamp::from_unix(created).map_or_else(|| "?".to_owned(), |t| t.year().to_string());
            *report.by_year.entry(year.clone()).or_default() += 1;
            let row = match rows.entry(author.clone()) {
                std::collections::btree_map::Entry::Occupied(row) => row.into_mut(),
                // An author outside the given members (a member since removed): its own row,
                // if its code is one.
                std::collections::btree_map::Entry::Vacant(slot) => match author.parse::<MemberCode>() {
                    Ok(code) => slot.insert(MemberStats::new(code)),
                    Err(_) => continue,
                },
            };
            row.publications += 1;
            *row.by_year.entry(year).or_default() += 1;
            for factor in slugs {
                *row.by_factor.entry(factor.to_string()).or_default() += 1;
                *report.factor_totals.entry(factor.into_owned()).or_default() += 1;
            }
            match newest.get_mut(&author) {
                Some(best) if best.0 >= created => {}
                Some(best) => *best = (created, id),
                None => {
                    newest.insert(author, (created, id));
                }
            }
        }
        for (author, (_, id)) in newest {
            let Some(record) = self.get(&id)? else { continue };
            let r = record.record();
            let title = r.publication().map(|p| p.title.clone()).unwrap_or_default();
            if let Some(row) = rows.get_mut(&author) {
                row.newest = Some(NewestRecord { id, title, created_at: r.created_at });
            }
        }
        for row in rows.values_mut() {
            row.missing_factors =
                report.factors.iter().filter(|f| !row.by_factor.contains_key(f.slug())).copied().collect();
        }
        report.members = rows.into_values().collect();
        Ok(report)
    }
}

/// The author of every stored record, from the chain index: one sorted vector rather than a
/// map, so a million records cost one 34 MB allocation for the duration of a call (returned to
/// the system when it ends) instead of a million small ones.
struct AuthorsById {
    authors: Vec<String>,
    ids: Vec<(RecordId, u16)>,
}

impl AuthorsById {
    fn read(replica: &Replica) -> Result<Self, StoreError> {
        let mut out = Self { authors: Vec::new(), ids: Vec::with_capacity(replica.len()? as usize) };
        for entry in replica.entries(keys::CHAIN) {
            let (key, value) = entry?;
            let author = keys::chain_author(&key);
            let index = match out.authors.iter().position(|a| a.as_bytes() == author) {
                Some(index) => index,
                None => {
                    out.authors.push(String::from_utf8_lossy(author).into_owned());
                    out.authors.len() - 1
                }
            };
            out.ids.push((id_from(&value)?, u16::try_from(index).unwrap_or(u16::MAX)));
        }
        out.ids.sort_unstable_by_key(|a| a.0);
        Ok(out)
    }

    fn of(&self, id: &RecordId) -> Option<&str> {
        let at = self.ids.binary_search_by(|(i, _)| i.cmp(id)).ok()?;
        self.authors.get(usize::from(self.ids[at].1)).map(String::as_str)
    }
}

/// A helper for callers that hold a verified record and want its view.
pub fn view_of(replica: &Replica, record: VerifiedRecord, detail: Detail) -> Result<RecordView, StoreError> {
    Ok(view(&replica.stored(record)?, detail))
}

impl Replica {
    /// Every version of the record `id_or_prefix` belongs to, oldest first: the chain of
    /// `supersedes` links between records of one author, whichever version is named.
    pub fn history(&self, id_or_prefix: &str) -> Result<Vec<RecordView>, StoreError> {
        let id = self.resolve(id_or_prefix)?;
        let start = self.get(&id)?.ok_or_else(|| StoreError::NotFound(id.to_hex()))?;
        let author = start.record().author.clone();
        // Back to the first version.
        let mut root = start;
        for _ in 0..10_000 {
            let Some(older) = root.record().publication().and_then(|p| p.supersedes) else { break };
            match self.get(&older)? {
                Some(r) if r.record().author == author => root = r,
                _ => break,
            }
        }
        // Forward through every later version of the same author.
        let mut versions = vec![root.clone()];
        let mut frontier = vec![root.id()];
        let mut seen = std::collections::HashSet::from([root.id()]);
        while let Some(current) = frontier.pop() {
            for newer in self.linked_supersessions(&current)? {
                if newer.record().author == author && seen.insert(newer.id()) {
                    frontier.push(newer.id());
                    versions.push(newer);
                }
            }
        }
        versions.sort_by_key(|r| r.record().seq);
        versions.into_iter().map(|r| Ok(view(&self.stored(r)?, Detail::Summary))).collect()
    }
}
