//! Which records a listing, a search or an export selects, and what a search answers.

use rix_record::{KeyFactor, Kind, MemberCode, Timestamp};
use serde::{Deserialize, Serialize};

use crate::views::RecordView;

/// Which records a listing shows. The default shows the current version of every record that
/// is not withdrawn, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Also the withdrawal records themselves (kind `withdrawal`: the reason in `summary`, the
    /// record withdrawn in `withdraws`). They have no kind, key factor or language, so a filter
    /// on any of those leaves them out.
    pub include_withdrawals: bool,
    /// At most this many.
    pub limit: Option<usize>,
}

impl RecordFilter {
    /// The filter as URL query parameters (`kind=event&limit=5`), percent-encoded: what the
    /// daemon's API decodes back into the same filter.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut add = |k: &str, v: &str| parts.push(format!("{k}={}", percent_encode(v)));
        if let Some(k) = self.kind {
            add("kind", k.slug());
        }
        if let Some(m) = &self.member {
            add("member", m.as_str());
        }
        if let Some(f) = self.factor {
            add("factor", f.slug());
        }
        if let Some(s) = self.since {
            add("since", &s.to_string());
        }
        if let Some(l) = &self.language {
            add("language", l);
        }
        if let Some(n) = self.limit {
            add("limit", &n.to_string());
        }
        if self.all_versions {
            add("all_versions", "true");
        }
        if self.include_withdrawn {
            add("include_withdrawn", "true");
        }
        if self.include_withdrawals {
            add("include_withdrawals", "true");
        }
        parts.join("&")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a record's language tag matches a filter: equal, or the filter is a prefix at a
/// subtag boundary (`zh` matches `zh-Hans`), case-insensitively.
pub fn language_matches(tag: &str, filter: &str) -> bool {
    let (tag, filter) = (tag.to_ascii_lowercase(), filter.to_ascii_lowercase());
    tag == filter || tag.starts_with(&format!("{filter}-"))
}

/// A search: words, "phrases" and prefix* terms, with the listing filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// The query text.
    pub text: String,
    /// Filters; `limit` defaults to 20.
    #[serde(flatten)]
    pub filter: RecordFilter,
}

impl SearchQuery {
    /// The query as URL query parameters: `text` and the filter's.
    pub fn to_query(&self) -> String {
        let filter = self.filter.to_query();
        let sep = if filter.is_empty() { "" } else { "&" };
        format!("text={}{sep}{filter}", percent_encode(&self.text))
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The record (listing fields).
    #[serde(flatten)]
    pub record: RecordView,
    /// Relevance (BM25; higher is better).
    pub score: f32,
    /// A passage of the record's text around the matches.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched the query.
    pub highlights: Vec<(usize, usize)>,
}

/// `rix search` output: `{"query", "total", "records": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The query text.
    pub query: String,
    /// Index documents matching the query and the indexed filters (before version and
    /// withdrawal filtering).
    pub total: usize,
    /// The best hits, best first.
    pub records: Vec<SearchHit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_survives_the_query_string() {
        let filter = RecordFilter {
            kind: Some(Kind::Event),
            member: Some("KZ".parse().unwrap()),
            language: Some("zh-Hans".into()),
            since: Some("2024-01-31T12:00:00Z".parse().unwrap()),
            limit: Some(5),
            include_withdrawn: true,
            ..RecordFilter::default()
        };
        let query = filter.to_query();
        assert_eq!(
            query,
            "kind=event&member=KZ&since=2024-01-31T12%3A00%3A00Z&language=zh-Hans&limit=5&include_withdrawn=true"
        );
        let search = SearchQuery { text: "廉政 a&b".into(), filter: RecordFilter::default() };
        assert_eq!(search.to_query(), "text=%E5%BB%89%E6%94%BF%20a%26b");
    }

    #[test]
    fn languages_match_by_primary_subtag() {
        assert!(language_matches("zh-Hans", "zh") && language_matches("EN", "en"));
        assert!(!language_matches("zhx", "zh") && !language_matches("en", "en-GB"));
    }
}
