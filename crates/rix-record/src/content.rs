//! The record model: [`Record`] (what an author signs) and its [`Content`], either a
//! [`Publication`] of one of the seven kinds or a [`Withdrawal`].
//!
//! Only what an author cannot sensibly omit is required: kind, title, language and at least one
//! key factor. Everything else is optional but typed. Kind-specific fields live in a section
//! named after the kind (`best_practice`, `action_plan`, ...), and only the section of the
//! record's own kind may be present.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::RecordId;
use crate::keys::AuthorKey;
use crate::member::MemberCode;
use crate::timefmt::{Date, Timestamp};
use crate::vocab::{Approach, CycleStage, KeyFactor, Kind, Theme};

/// The record format version this crate writes and accepts.
pub const FORMAT_VERSION: u32 = 1;

/// Sequence numbers stay below 2^53 so that every JSON implementation reads them exactly.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// A field that is present but not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// Dotted path of the field, e.g. `content.factors`.
    pub field: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

impl InvalidField {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

/// What an author signs: the header that places it in the author's sequence, and the content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Record format version; always [`FORMAT_VERSION`].
    pub format: u32,
    /// The network (charter) this record belongs to; records never cross networks.
    pub network: String,
    /// The member that authored and signed the record.
    pub author: MemberCode,
    /// The author's signing public key, which must be the charter's key for `author`.
    pub author_key: AuthorKey,
    /// 1, 2, 3, ... per author.
    pub seq: u64,
    /// The id of the author's record `seq - 1`; absent exactly when `seq == 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<RecordId>,
    /// When the author signed it.
    pub created_at: Timestamp,
    /// A publication or a withdrawal.
    pub content: Content,
}

/// The body of a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Content {
    /// A best practice, strategy, case study, ...
    Publication(Box<Publication>),
    /// The author's signed retraction of one of its earlier records.
    Withdrawal(Withdrawal),
}

/// A signed retraction. The withdrawn record stays stored and queryable in history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// The record withdrawn; only the author's own records can be withdrawn.
    pub withdraws: RecordId,
    /// Why, in words.
    pub reason: String,
}

/// A BCP 47 language tag such as `en`, `ru`, `zh-Hans`, `uz-Latn`, `mn-Mong`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LanguageTag(String);

impl LanguageTag {
    /// The tag as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag, lowercased (`zh` for `zh-Hans`).
    pub fn primary(&self) -> String {
        self.0.split('-').next().unwrap_or_default().to_ascii_lowercase()
    }
}

impl FromStr for LanguageTag {
    type Err = InvalidField;
    fn from_str(s: &str) -> Result<Self, InvalidField> {
        let mut parts = s.split('-');
        let primary = parts.next().unwrap_or_default();
        let ok = (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidField::new(
                "language",
                format!("{s:?} is not a BCP 47 language tag (e.g. en, ru, zh-Hans, ja, uz-Latn)"),
            ))
        }
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for LanguageTag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LanguageTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(|e: InvalidField| serde::de::Error::custom(e.reason))
    }
}

/// A decimal quantity (`12`, `-3.5`, `0.25`), kept as text so every implementation encodes it
/// identically. Record files may write it as a TOML/JSON number; it is signed as a string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl FromStr for Decimal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
        let ok = !int.is_empty()
            && !frac.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && (int == "0" || !int.starts_with('0'));
        if ok { Ok(Self(s.to_owned())) } else { Err(format!("{s:?} is not a decimal number like 12 or 0.75")) }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_owned())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
                Ok(v.to_string())
            }
        }
        d.deserialize_any(V)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A span of time a record concerns (a strategy's years, an event's dates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day.
    pub from: Date,
    /// Last day, if the period has ended or is planned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Date>,
}

/// A published record of one of the seven kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// Which of the seven kinds.
    pub kind: Kind,
    /// One line.
    pub title: String,
    /// A paragraph for listings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// The language of the title, summary and body.
    pub language: LanguageTag,
    /// Key factors of the Revised Arusha Declaration; at least one.
    pub factors: Vec<KeyFactor>,
    /// Pre-emptive or traditional approaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approaches: Vec<Approach>,
    /// Integrity development cycle stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<CycleStage>,
    /// Cross-cutting themes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub themes: Vec<Theme>,
    /// Free keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The period the record concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Whom to contact about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_unit: Option<String>,
    /// Related records of any author.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RecordId>,
    /// The author's earlier record that this one is a new version of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<RecordId>,
    /// The text, in Markdown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Fields of a best practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_practice: Option<BestPractice>,
    /// Fields of an integrity strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity_strategy: Option<IntegrityStrategy>,
    /// Fields of a case study.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_study: Option<CaseStudy>,
    /// Fields of an action plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_plan: Option<ActionPlan>,
    /// Fields of a code of conduct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_of_conduct: Option<CodeOfConduct>,
    /// Fields of an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// Fields of a self-assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_assessment: Option<SelfAssessment>,
}

/// A measured result of a practice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// What was measured.
    pub name: String,
    /// The value before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Decimal>,
    /// The value measured.
    pub value: Decimal,
    /// Unit (`%`, `days`, `complaints/year`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// When it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
}

/// `best_practice` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BestPractice {
    /// The integrity problem addressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Measures taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<String>,
    /// Results, with metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<Metric>,
    /// Lessons learned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lessons_learned: Vec<String>,
    /// What another administration needs to adopt it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferability: Option<String>,
    /// The unit responsible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsible_unit: Option<String>,
}

/// `integrity_strategy` section (the period is the record's `period`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrityStrategy {
    /// Objectives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<String>,
    /// Who adopted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopting_authority: Option<String>,
    /// The legal act it rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
}

/// What kind of case a case study describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseKind {
    /// An integrity incident.
    Incident,
    /// An investigation.
    Investigation,
    /// A prosecution.
    Prosecution,
    /// The evaluation of a reform.
    ReformEvaluation,
}

/// `case_study` section. Personal data must be anonymised before publication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseStudy {
    /// Incident, investigation, prosecution or reform evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_kind: Option<CaseKind>,
    /// The setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How it came to light.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_method: Option<String>,
    /// What came of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Lessons learned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lessons_learned: Vec<String>,
    /// The author's statement that personal data has been removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymised: bool,
}

/// Where an action-plan item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// Not started.
    Planned,
    /// Under way.
    InProgress,
    /// Completed.
    Done,
    /// Late.
    Delayed,
    /// Dropped.
    Cancelled,
}

/// An indicator of an action-plan item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// What is tracked.
    pub name: String,
    /// Starting value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Decimal>,
    /// Target value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Decimal>,
    /// Latest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Decimal>,
    /// Unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// One line of an action plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// The objective.
    pub objective: String,
    /// The measure that serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<String>,
    /// The key factor it addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<KeyFactor>,
    /// Who is responsible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsible_unit: Option<String>,
    /// Due date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Date>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// Indicators with baseline and target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<Indicator>,
    /// Progress in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// `action_plan` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPlan {
    /// The plan's items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<PlanItem>,
}

/// One provision of a code of conduct.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    /// Gifts, conflicts of interest, ...
    pub topic: String,
    /// The provision's text.
    pub text: String,
}

/// `code_of_conduct` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeOfConduct {
    /// In force from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<Date>,
    /// Whom it binds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_to: Vec<String>,
    /// Provisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisions: Vec<Provision>,
    /// Sanctions for breaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sanctions: Vec<String>,
}

/// What sort of event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// Conference.
    Conference,
    /// Seminar.
    Seminar,
    /// Workshop.
    Workshop,
    /// Training.
    Training,
    /// Peer-review visit.
    PeerReviewVisit,
    /// Meeting.
    Meeting,
}

/// `event` section (the dates are the record's `period`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Conference, seminar, training, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Member codes of participating administrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<MemberCode>,
    /// Outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<String>,
    /// Agreed follow-ups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<String>,
}

/// The rating scale a self-assessment declares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingScale {
    /// Lowest rating.
    pub min: i64,
    /// Highest rating.
    pub max: i64,
    /// What the numbers mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The rating of one key factor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorRating {
    /// The key factor.
    pub factor: KeyFactor,
    /// A value on the declared scale.
    pub rating: i64,
    /// Evidence for the rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Gaps found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
}

/// `self_assessment` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfAssessment {
    /// Method (e.g. WCO Integrity Self-Assessment Guide, survey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// When it was carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed_on: Option<Date>,
    /// The declared scale; ratings must lie within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<RatingScale>,
    /// Per key factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<FactorRating>,
}

const MAX_TITLE_CHARS: usize = 500;
const MAX_TAG_CHARS: usize = 64;
const MAX_NETWORK_CHARS: usize = 64;

impl Record {
    /// The publication, if this record is one.
    pub fn publication(&self) -> Option<&Publication> {
        match &self.content {
            Content::Publication(p) => Some(p),
            Content::Withdrawal(_) => None,
        }
    }

    /// The withdrawal, if this record is one.
    pub fn withdrawal(&self) -> Option<&Withdrawal> {
        match &self.content {
            Content::Withdrawal(w) => Some(w),
            Content::Publication(_) => None,
        }
    }

    /// Checks every rule that does not need the charter or a signature.
    pub fn validate(&self) -> Result<(), InvalidField> {
        if self.format != FORMAT_VERSION {
            return Err(InvalidField::new(
                "format",
                format!("unsupported format version {} (this rix reads {FORMAT_VERSION})", self.format),
            ));
        }
        if !valid_network_name(&self.network) {
            return Err(InvalidField::new("network", "must be 1-64 of a-z 0-9 - . _"));
        }
        if self.seq == 0 || self.seq > MAX_SEQ {
            return Err(InvalidField::new("seq", format!("must be between 1 and {MAX_SEQ}")));
        }
        match (self.seq, &self.prev) {
            (1, Some(_)) => return Err(InvalidField::new("prev", "must be absent for seq 1")),
            (2.., None) => return Err(InvalidField::new("prev", "is required when seq > 1")),
            _ => {}
        }
        match &self.content {
            Content::Publication(p) => {
                p.validate().map_err(|e| InvalidField::new(format!("content.{}", e.field), e.reason))
            }
            Content::Withdrawal(w) => {
                if w.reason.trim().is_empty() {
                    return Err(InvalidField::new("content.reason", "a withdrawal needs a reason"));
                }
                Ok(())
            }
        }
    }
}

/// Whether `name` is usable as a network name (it also names the gossip topic).
pub fn valid_network_name(name: &str) -> bool {
    (1..=MAX_NETWORK_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
}

impl Publication {
    /// A minimal publication: the four required fields.
    pub fn new(kind: Kind, title: impl Into<String>, language: LanguageTag, factors: Vec<KeyFactor>) -> Self {
        Self {
            kind,
            title: title.into(),
            summary: String::new(),
            language,
            factors,
            approaches: vec![],
            stages: vec![],
            themes: vec![],
            tags: vec![],
            period: None,
            contact_unit: None,
            related: vec![],
            supersedes: None,
            body: String::new(),
            best_practice: None,
            integrity_strategy: None,
            case_study: None,
            action_plan: None,
            code_of_conduct: None,
            event: None,
            self_assessment: None,
        }
    }

    /// Checks the publication's own rules: required fields, uniqueness, sections and ranges.
    /// Field names in errors are relative to the publication (`factors`, `best_practice`).
    pub fn validate(&self) -> Result<(), InvalidField> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(InvalidField::new("title", "must not be empty"));
        }
        if self.title.chars().count() > MAX_TITLE_CHARS || self.title.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "title",
                format!("must be one line of at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        if self.factors.is_empty() {
            return Err(InvalidField::new(
                "factors",
                "at least one key factor is required (leadership, regulatory-framework, transparency, automation, reform-modernization, audit-investigation, code-of-conduct, hrm, morale-culture, private-sector)",
            ));
        }
        unique("factors", &self.factors)?;
        unique("approaches", &self.approaches)?;
        unique("stages", &self.stages)?;
        unique("themes", &self.themes)?;
        unique("tags", &self.tags)?;
        unique("related", &self.related)?;
        for tag in &self.tags {
            if tag.trim().is_empty() || tag.chars().count() > MAX_TAG_CHARS || tag.chars().any(char::is_control) {
                return Err(InvalidField::new(
                    "tags",
                    format!("{tag:?}: tags are 1-{MAX_TAG_CHARS} characters on one line"),
                ));
            }
        }
        if let Some(p) = &self.period
            && p.to.is_some_and(|to| to < p.from)
        {
            return Err(InvalidField::new("period.to", "is before period.from"));
        }
        let sections = [
            ("best_practice", Kind::BestPractice, self.best_practice.is_some()),
            ("integrity_strategy", Kind::IntegrityStrategy, self.integrity_strategy.is_some()),
            ("case_study", Kind::CaseStudy, self.case_study.is_some()),
            ("action_plan", Kind::ActionPlan, self.action_plan.is_some()),
            ("code_of_conduct", Kind::CodeOfConduct, self.code_of_conduct.is_some()),
            ("event", Kind::Event, self.event.is_some()),
            ("self_assessment", Kind::SelfAssessment, self.self_assessment.is_some()),
        ];
        for (name, kind, present) in sections {
            if present && kind != self.kind {
                return Err(InvalidField::new(
                    name,
                    format!("section belongs to kind {kind}, but this record is a {}", self.kind),
                ));
            }
        }
        if let Some(scale) = self.self_assessment.as_ref().and_then(|sa| sa.scale.as_ref()) {
            if scale.min >= scale.max {
                return Err(InvalidField::new("self_assessment.scale", "min must be below max"));
            }
            let ratings = self.self_assessment.iter().flat_map(|sa| &sa.ratings);
            if let Some(r) = ratings.into_iter().find(|r| !(scale.min..=scale.max).contains(&r.rating)) {
                return Err(InvalidField::new(
                    "self_assessment.ratings",
                    format!("rating {} for {} is outside the scale {}..={}", r.rating, r.factor, scale.min, scale.max),
                ));
            }
        }
        Ok(())
    }
}

fn unique<T: Ord + fmt::Debug>(field: &str, items: &[T]) -> Result<(), InvalidField> {
    let mut seen = BTreeSet::new();
    for item in items {
        if !seen.insert(item) {
            return Err(InvalidField::new(field, format!("{item:?} is listed twice")));
        }
    }
    Ok(())
}
