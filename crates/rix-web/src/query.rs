//! The records page's selection as it travels in URLs: every `rix list` filter, the search
//! text and the page. Owns parsing (a malformed parameter is an error that names it) and
//! writing it back, so that paging, downloads and the language switcher keep the selection.

use rix_api::RecordFilter;
use rix_api::record::{KeyFactor, Kind, MemberCode, Timestamp};

use crate::pages::PageError;

/// Records per page.
pub const PAGE_SIZE: usize = 25;
/// The deepest page offered: listings are read newest first, so page N costs N pages of
/// reading (page 40, the 1,000th record, about 50 ms on 100,000 records); beyond it, the page
/// asks for a narrower selection (a filter, a date, a search), and downloads have everything.
pub const MAX_PAGE: usize = 40;

/// What the records page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Full-text search, if any.
    pub text: String,
    /// `rix list --kind`.
    pub kind: Option<Kind>,
    /// `--member`.
    pub member: Option<MemberCode>,
    /// `--factor`.
    pub factor: Option<KeyFactor>,
    /// `--language`.
    pub language: Option<String>,
    /// `--since`, a date.
    pub since: Option<String>,
    /// `--all-versions`.
    pub all_versions: bool,
    /// `--include-withdrawn`.
    pub include_withdrawn: bool,
    /// The page, from 1.
    pub page: usize,
}

/// The `(name, value)` pairs of a query string, decoded.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn bad(name: &str, value: &str, why: impl std::fmt::Display) -> PageError {
    PageError::BadRequest(format!("parameter {name}={value:?}: {why}"))
}

impl Selection {
    /// Reads a selection from a query string; empty values mean "any".
    pub fn parse(raw: Option<&str>) -> Result<Self, PageError> {
        let mut s = Selection { page: 1, ..Selection::default() };
        for (name, value) in pairs(raw) {
            let v = value.trim();
            if v.is_empty() {
                continue;
            }
            match name.as_str() {
                "q" => s.text = v.to_owned(),
                "kind" => s.kind = Some(v.parse().map_err(|e| bad(&name, v, e))?),
                "member" => s.member = Some(v.parse().map_err(|e| bad(&name, v, e))?),
                "factor" => s.factor = Some(v.parse().map_err(|e| bad(&name, v, e))?),
                "language" => {
                    if v.len() > 35 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                        return Err(bad(&name, v, "expected a language tag such as ru or zh-Hans"));
                    }
                    s.language = Some(v.to_owned());
                }
                "since" => {
                    since_instant(v).ok_or_else(|| bad(&name, v, "expected a date, YYYY-MM-DD"))?;
                    s.since = Some(v.to_owned());
                }
                "all" => s.all_versions = v == "1",
                "withdrawn" => s.include_withdrawn = v == "1",
                "page" => {
                    s.page = v.parse().ok().filter(|p| (1..=MAX_PAGE).contains(p)).ok_or_else(|| {
                        bad(&name, v, format!("expected a page number from 1 to {MAX_PAGE}; narrow the selection"))
                    })?
                }
                // The comparison's ids and the download's format are read by their pages; the
                // language switcher's parameter by the switcher.
                "id" | "format" | "lang" => {}
                _ => return Err(bad(&name, v, "unknown parameter")),
            }
        }
        Ok(s)
    }

    /// The filter that selects this page's records and one more (to know whether there is a
    /// next page): the listing is read from the newest, and the earlier pages are skipped.
    pub fn filter(&self, limit: Option<usize>) -> RecordFilter {
        RecordFilter {
            kind: self.kind,
            member: self.member.clone(),
            factor: self.factor,
            since: self.since.as_deref().and_then(since_instant),
            language: self.language.clone(),
            all_versions: self.all_versions,
            include_withdrawn: self.include_withdrawn,
            include_withdrawals: false,
            limit,
        }
    }

    /// Whether any filter or search is set.
    pub fn is_narrowed(&self) -> bool {
        *self != Selection { page: self.page, ..Selection::default() }
    }

    /// The selection as a query string, without the page.
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if !self.text.is_empty() {
            out.append_pair("q", &self.text);
        }
        if let Some(k) = self.kind {
            out.append_pair("kind", k.slug());
        }
        if let Some(m) = &self.member {
            out.append_pair("member", m.as_str());
        }
        if let Some(f) = self.factor {
            out.append_pair("factor", f.slug());
        }
        if let Some(l) = &self.language {
            out.append_pair("language", l);
        }
        if let Some(s) = &self.since {
            out.append_pair("since", s);
        }
        if self.all_versions {
            out.append_pair("all", "1");
        }
        if self.include_withdrawn {
            out.append_pair("withdrawn", "1");
        }
        out.finish()
    }

    /// The query string of page `page` of this selection.
    pub fn page_query(&self, page: usize) -> String {
        let base = self.to_query();
        match (base.is_empty(), page) {
            (true, _) => format!("page={page}"),
            (false, _) => format!("{base}&page={page}"),
        }
    }
}

/// Midnight UTC at the start of a `YYYY-MM-DD` date.
fn since_instant(date: &str) -> Option<Timestamp> {
    if date.len() != 10 {
        return None;
    }
    format!("{date}T00:00:00Z").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_survives_its_url_and_bad_parameters_are_named() {
        let raw =
            "q=%E5%BB%89%E6%94%BF+a%26b&kind=event&member=KZ&factor=hrm&language=zh&since=2024-01-31&all=1&page=3";
        let s = Selection::parse(Some(raw)).unwrap();
        assert_eq!(s.text, "廉政 a&b");
        assert_eq!(s.page, 3);
        assert_eq!(Selection::parse(Some(&s.page_query(3))).unwrap(), s);
        let f = s.filter(Some(76));
        assert_eq!(f.since.unwrap().to_string(), "2024-01-31T00:00:00Z");
        assert_eq!((f.limit, f.all_versions, f.include_withdrawn), (Some(76), true, false));
        assert!(s.is_narrowed() && !Selection::parse(Some("page=2")).unwrap().is_narrowed());
        assert_eq!(Selection::parse(Some("kind=&member=")).unwrap(), Selection { page: 1, ..Selection::default() });
        for (raw, named) in [
            ("kind=memo", "kind=\"memo\""),
            ("member=kz", "member"),
            ("since=2024-02-30", "since"),
            ("since=yesterday", "since"),
            ("page=0", "page"),
            ("page=41", "page"),
            ("language=%3Cscript%3E", "language"),
            ("colour=red", "unknown parameter"),
        ] {
            let e = Selection::parse(Some(raw)).unwrap_err().to_string();
            assert!(e.contains(named), "{raw}: {e}");
        }
    }
}
