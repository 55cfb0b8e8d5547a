//! Records as clients see them. Listings carry the summary fields; `show` and exports add the
//! body and the kind's section ([`Detail`]). The JSON of a [`RecordView`] is the record shape of
//! `docs/cli.md`: ids as 64 hex digits, times as RFC 3339, terms as their slugs.

use std::fmt;
use std::str::FromStr;

use rix_record::content::Period;
use rix_record::{Approach, CycleStage, KeyFactor, Kind, MemberCode, RecordId, Theme, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How much of a record a view carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Listing fields.
    Summary,
    /// Everything, with body and kind-specific fields.
    Full,
}

/// What a record is: a publication of one of the seven kinds, or a withdrawal. Written as the
/// kind's slug, or `withdrawal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A publication of this kind.
    Publication(Kind),
    /// A withdrawal of an earlier publication by its author.
    Withdrawal,
}

impl RecordKind {
    /// The slug: the kind's, or `withdrawal`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Publication(k) => k.slug(),
            Self::Withdrawal => "withdrawal",
        }
    }

    /// The publication kind, if it is one.
    pub fn publication(self) -> Option<Kind> {
        match self {
            Self::Publication(k) => Some(k),
            Self::Withdrawal => None,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for RecordKind {
    type Err = rix_record::vocab::UnknownTerm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "withdrawal" => Ok(Self::Withdrawal),
            other => other.parse().map(Self::Publication),
        }
    }
}

impl Serialize for RecordKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.slug())
    }
}

impl<'de> Deserialize<'de> for RecordKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A record as scripts see it (`--json`). Listings omit `body` and `details`; `show` and the
/// exports have them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    /// Record id.
    pub id: RecordId,
    /// Author.
    pub author: MemberCode,
    /// Author sequence number.
    pub seq: u64,
    /// Id of the author's previous record.
    pub prev: Option<RecordId>,
    /// Kind, or withdrawal.
    pub kind: RecordKind,
    /// Title (for a withdrawal: a generated one).
    pub title: String,
    /// Summary (for a withdrawal: the reason).
    pub summary: String,
    /// BCP 47 language tag (empty for a withdrawal).
    pub language: String,
    /// Key factors.
    pub factors: Vec<KeyFactor>,
    /// Approaches.
    pub approaches: Vec<Approach>,
    /// Integrity development cycle stages.
    pub stages: Vec<CycleStage>,
    /// Themes.
    pub themes: Vec<Theme>,
    /// Free tags.
    pub tags: Vec<String>,
    /// When the author signed it.
    pub created_at: Timestamp,
    /// The record this one supersedes.
    pub supersedes: Option<RecordId>,
    /// The newest record that supersedes this one.
    pub superseded_by: Option<RecordId>,
    /// Whether the author has withdrawn it.
    pub withdrawn: bool,
    /// The withdrawal, if any.
    pub withdrawal: Option<WithdrawalView>,
    /// For a withdrawal record: the record it withdraws.
    pub withdraws: Option<RecordId>,
    /// The period the record covers.
    pub period: Option<Period>,
    /// Contact unit.
    pub contact_unit: Option<String>,
    /// Related records.
    pub related: Vec<RecordId>,
    /// Markdown body ([`Detail::Full`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The kind-specific section ([`Detail::Full`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl RecordView {
    /// Whether it is the current version: neither superseded nor withdrawn.
    pub fn is_current(&self) -> bool {
        self.superseded_by.is_none() && !self.withdrawn
    }

    /// Key factors as slugs, joined by `sep`.
    pub fn factor_slugs(&self, sep: &str) -> String {
        self.factors.iter().map(|f| f.slug()).collect::<Vec<_>>().join(sep)
    }
}

/// A withdrawal as shown on the withdrawn record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithdrawalView {
    /// The withdrawal record's id.
    pub id: RecordId,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
}

/// `{"records": [...]}`, the shape of `list` and `history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordList {
    /// The records, newest first (`history`: oldest first).
    pub records: Vec<RecordView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON every script reads: ids and times as strings, terms as slugs; a malformed
    /// field is an error, not a panic.
    #[test]
    fn a_view_reads_and_writes_the_documented_shape() {
        let id = "ab".repeat(32);
        let json = serde_json::json!({
            "id": id, "author": "KZ", "seq": 3, "prev": null, "kind": "best-practice",
            "title": "t", "summary": "s", "language": "en", "factors": ["leadership"],
            "approaches": [], "stages": [], "themes": [], "tags": ["a"],
            "created_at": "2026-01-02T03:04:05Z", "supersedes": null, "superseded_by": null,
            "withdrawn": false, "withdrawal": null, "withdraws": null,
            "period": {"from": "2026-01-01"}, "contact_unit": null, "related": []
        });
        let view: RecordView = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(view.kind, RecordKind::Publication(Kind::BestPractice));
        assert_eq!(view.created_at.date().to_string(), "2026-01-02");
        assert_eq!(serde_json::to_value(&view).unwrap(), json);
        for (field, bad) in [("id", "abc"), ("author", "kz"), ("kind", "memo"), ("created_at", "yesterday")] {
            let mut broken = json.clone();
            broken[field] = bad.into();
            let e = serde_json::from_value::<RecordView>(broken).unwrap_err().to_string();
            assert!(!e.is_empty(), "{field}");
        }
        let withdrawal: RecordKind = "withdrawal".parse().unwrap();
        assert_eq!(withdrawal.to_string(), "withdrawal");
        assert_eq!(withdrawal.publication(), None);
    }
}
