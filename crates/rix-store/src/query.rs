//! Queries over a [`Replica`]: filtered listings, the JSON views of records, and statistics.
//!
//! These are the shapes `docs/cli.md` and `interface.md` promise to scripts. The CLI prints
//! them when it reads the store directly, and the daemon's API returns them, so the output is
//! the same whichever path a query takes.

use std::collections::{BTreeMap, HashSet};

use rix_record::{Content, KeyFactor, Kind, MemberCode, RecordId, Timestamp, VerifiedRecord};
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::replica::{Facet, Replica, StoreError, StoredRecord, id_from};

/// Which records a listing shows. The default shows the current version of every record that
/// is not withdrawn, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordFilter {
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this author.
    pub member: Option<MemberCode>,
    /// Only records tagged with this key factor.
    pub factor: Option<KeyFactor>,
    /// Only records created at or after this instant.
    pub since: Option<Timestamp>,
    /// Only records in this language (primary subtag match: `zh` matches `zh-Hans`).
    pub language: Option<String>,
    /// Also superseded versions.
    pub all_versions: bool,
    /// Also withdrawn records.
    pub include_withdrawn: bool,
    /// At most this many.
    pub limit: Option<usize>,
}

impl RecordFilter {
    /// Whether a stored record passes the filter (publications only).
    pub fn admits(&self, stored: &StoredRecord) -> bool {
        let r = stored.record.record();
        let Some(p) = r.publication() else {
            return false;
        };
        self.kind.is_none_or(|k| p.kind == k)
            && self.member.as_ref().is_none_or(|m| &r.author == m)
            && self.factor.is_none_or(|f| p.factors.contains(&f))
            && self.since.is_none_or(|t| r.created_at >= t)
            && self.language.as_ref().is_none_or(|l| language_matches(p.language.as_str(), l))
            && (self.all_versions || stored.superseded_by.is_none())
            && (self.include_withdrawn || stored.withdrawn_by.is_none())
    }
}

/// Whether a record's language tag matches a filter: equal, or the filter is a prefix at a
/// subtag boundary (`zh` matches `zh-Hans`), case-insensitively.
pub fn language_matches(tag: &str, filter: &str) -> bool {
    let (tag, filter) = (tag.to_ascii_lowercase(), filter.to_ascii_lowercase());
    tag == filter || tag.starts_with(&format!("{filter}-"))
}

/// A record as scripts see it (`--json`). Listings omit `body` and `details`; `show` has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    /// Record id, 64 hex digits.
    pub id: String,
    /// Author member code.
    pub author: String,
    /// Author sequence number.
    pub seq: u64,
    /// Id of the author's previous record.
    pub prev: Option<String>,
    /// Kind slug, or `withdrawal`.
    pub kind: String,
    /// Title (for a withdrawal: a generated one).
    pub title: String,
    /// Summary (for a withdrawal: the reason).
    pub summary: String,
    /// BCP 47 language tag.
    pub language: String,
    /// Key factor slugs.
    pub factors: Vec<String>,
    /// Approach slugs.
    pub approaches: Vec<String>,
    /// Cycle stage slugs.
    pub stages: Vec<String>,
    /// Theme slugs.
    pub themes: Vec<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The record this one supersedes.
    pub supersedes: Option<String>,
    /// The newest record that supersedes this one.
    pub superseded_by: Option<String>,
    /// Whether the author has withdrawn it.
    pub withdrawn: bool,
    /// The withdrawal, if any.
    pub withdrawal: Option<WithdrawalView>,
    /// For a withdrawal record: the record it withdraws.
    pub withdraws: Option<String>,
    /// `{"from": ..., "to": ...}`.
    pub period: Option<serde_json::Value>,
    /// Contact unit.
    pub contact_unit: Option<String>,
    /// Related record ids.
    pub related: Vec<String>,
    /// Markdown body (`show` and exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The kind-specific section (`show` and exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// A withdrawal as shown on the withdrawn record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithdrawalView {
    /// The withdrawal record's id.
    pub id: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: String,
}

/// How much of a record a view carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Listing fields.
    Summary,
    /// Everything, with body and kind-specific fields.
    Full,
}

impl RecordView {
    /// The view of a stored record.
    pub fn new(stored: &StoredRecord, detail: Detail) -> Self {
        let r = stored.record.record();
        let slugs = |v: &mut dyn Iterator<Item = &'static str>| v.map(str::to_owned).collect::<Vec<_>>();
        let withdrawal = stored.withdrawn_by.as_ref().map(|w| WithdrawalView {
            id: w.id().to_hex(),
            reason: w.record().withdrawal().map(|w| w.reason.clone()).unwrap_or_default(),
            created_at: w.record().created_at.to_string(),
        });
        let mut view = RecordView {
            id: stored.record.id().to_hex(),
            author: r.author.to_string(),
            seq: r.seq,
            prev: r.prev.map(|p| p.to_hex()),
            kind: String::new(),
            title: String::new(),
            summary: String::new(),
            language: String::new(),
            factors: vec![],
            approaches: vec![],
            stages: vec![],
            themes: vec![],
            tags: vec![],
            created_at: r.created_at.to_string(),
            supersedes: None,
            superseded_by: stored.superseded_by.map(|i| i.to_hex()),
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
                view.kind = p.kind.slug().to_owned();
                view.title = p.title.clone();
                view.summary = p.summary.clone();
                view.language = p.language.to_string();
                view.factors = slugs(&mut p.factors.iter().map(|f| f.slug()));
                view.approaches = slugs(&mut p.approaches.iter().map(|f| f.slug()));
                view.stages = slugs(&mut p.stages.iter().map(|f| f.slug()));
                view.themes = slugs(&mut p.themes.iter().map(|f| f.slug()));
                view.tags = p.tags.clone();
                view.supersedes = p.supersedes.map(|i| i.to_hex());
                view.period = p.period.as_ref().map(|p| serde_json::to_value(p).expect("serialisable"));
                view.contact_unit = p.contact_unit.clone();
                view.related = p.related.iter().map(RecordId::to_hex).collect();
                if detail == Detail::Full {
                    view.body = Some(p.body.clone());
                    view.details = kind_section(p);
                }
            }
            Content::Withdrawal(w) => {
                view.kind = "withdrawal".into();
                view.title = format!("Withdrawal of {}", w.withdraws.short());
                view.summary = w.reason.clone();
                view.withdraws = Some(w.withdraws.to_hex());
                if detail == Detail::Full {
                    view.body = Some(String::new());
                }
            }
        }
        view
    }
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

/// `{"records": [...]}`, the shape of `list` and `search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordList {
    /// The records, newest first.
    pub records: Vec<RecordView>,
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
            if record.record().publication().is_none() {
                return Ok(None);
            }
            let stored = self.stored(record)?;
            Ok(filter.admits(&stored).then_some(stored))
        };
        let mut handed = 0;
        if let (Some(member), None, None) = (&filter.member, &filter.kind, &filter.factor) {
            // The author index is in sequence order, listings in time order: note when each
            // admitted record was created (40 bytes apiece), sort, then read them in order.
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
        let records = self.select(filter)?.iter().map(|s| RecordView::new(s, Detail::Summary)).collect();
        Ok(RecordList { records })
    }

    /// The `show` view of the record a full id or unique prefix names.
    pub fn show(&self, id_or_prefix: &str) -> Result<RecordView, StoreError> {
        let id = self.resolve(id_or_prefix)?;
        let record = self.get(&id)?.ok_or_else(|| StoreError::NotFound(id.to_hex()))?;
        Ok(RecordView::new(&self.stored(record)?, Detail::Full))
    }

    /// Statistics over current, non-withdrawn publications. `members` lists every member of the
    /// charter, so members that have published nothing still get a row.
    ///
    /// Computed from the index entries alone (chain, links, time index with its facets), then
    /// one record read per member for its newest title: records are never decoded in bulk.
    /// On a million records this took 4-6 s against 25 s for reading every record, and it leaves
    /// no record pages in sled's cache (docs/performance.md).
    pub fn stats(&self, members: &[MemberCode]) -> Result<StatsReport, StoreError> {
        let mut report = StatsReport {
            records_stored: self.len()?,
            factors: KeyFactor::ALL.iter().map(|f| f.slug().to_owned()).collect(),
            ..StatsReport::default()
        };
        let mut rows: BTreeMap<String, MemberStats> =
            members.iter().map(|m| (m.to_string(), MemberStats::new(m.to_string()))).collect();
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
            *report.by_year.entry(year).or_default() += 1;
            let row = rows.entry(author.clone()).or_insert_with(|| MemberStats::new(author.clone()));
            row.publications += 1;
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
                row.newest = Some(NewestRecord { id: id.to_hex(), title, created_at: r.created_at.to_string() });
            }
        }
        for row in rows.values_mut() {
            row.missing_factors = report.factors.iter().filter(|f| !row.by_factor.contains_key(*f)).cloned().collect();
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

/// `rix stats`: what an integrity conference would look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// Every record held, of any kind or state.
    pub records_stored: u64,
    /// Current, non-withdrawn publications (what the rest of the report counts).
    pub publications: u64,
    /// Older versions of publications.
    pub superseded: u64,
    /// Withdrawn publications.
    pub withdrawn: u64,
    /// Withdrawal records.
    pub withdrawals: u64,
    /// Key factor slugs, in declaration order (the table's columns).
    pub factors: Vec<String>,
    /// One row per member.
    pub members: Vec<MemberStats>,
    /// Publications per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Publications per year of creation.
    pub by_year: BTreeMap<String, u64>,
    /// Publications per key factor (a record with two factors counts for both).
    pub factor_totals: BTreeMap<String, u64>,
}

/// One member's row of [`StatsReport`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberStats {
    /// Member code.
    pub member: String,
    /// Current publications.
    pub publications: u64,
    /// Per key factor slug.
    pub by_factor: BTreeMap<String, u64>,
    /// The member's newest publication.
    pub newest: Option<NewestRecord>,
    /// Key factors with no publication by this member: coverage gaps.
    pub missing_factors: Vec<String>,
}

impl MemberStats {
    fn new(member: String) -> Self {
        Self { member, ..Self::default() }
    }
}

/// A member's newest publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewestRecord {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// When.
    pub created_at: String,
}

/// A helper for callers that hold a verified record and want its view.
pub fn view_of(replica: &Replica, record: VerifiedRecord, detail: Detail) -> Result<RecordView, StoreError> {
    Ok(RecordView::new(&replica.stored(record)?, detail))
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
        versions.into_iter().map(|r| Ok(RecordView::new(&self.stored(r)?, Detail::Summary))).collect()
    }
}
