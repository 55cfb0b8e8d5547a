//! Record files: what an author writes and `rix publish` reads.
//!
//! Two forms are accepted:
//! - Markdown with TOML front matter between `+++` lines; the Markdown after it is the body.
//! - A JSON object with the same fields (the body in `"body"`).
//!
//! A withdrawal is a file with `kind = "withdrawal"`, `withdraws` and `reason`.
//! `supersedes` and `withdraws` take a record id, a unique id prefix, or `@path` naming the
//! record file (relative to this one) whose record is meant; the publisher resolves them.
//! Errors name the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::content::Publication;

/// What a record file describes, before signing.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordDraft {
    /// The file it came from.
    pub path: PathBuf,
    /// A publication or a withdrawal.
    pub content: DraftContent,
}

/// The content of a draft; references are not yet resolved to ids.
#[derive(Clone, Debug, PartialEq)]
pub enum DraftContent {
    /// A publication; `supersedes` is taken from the reference, not from the publication.
    Publication {
        /// Everything but `supersedes`.
        publication: Box<Publication>,
        /// The record this one is a new version of.
        supersedes: Option<RecordRef>,
    },
    /// A withdrawal.
    Withdrawal {
        /// The record withdrawn.
        withdraws: RecordRef,
        /// Why.
        reason: String,
    },
}

/// A reference to a record from a record file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordRef {
    /// A full id or a unique prefix of one (resolved against the replica).
    Id(String),
    /// The record published from another file (path resolved relative to the referring file).
    File(PathBuf),
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordRef::Id(id) => f.write_str(id),
            RecordRef::File(path) => write!(f, "@{}", path.display()),
        }
    }
}

/// A record file that cannot be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RecordFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RecordFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Reads and parses a record file.
pub fn read_record_file(path: &Path) -> Result<RecordDraft, RecordFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| RecordFileError {
        path: path.to_owned(),
        line: None,
        field: None,
        message: e.to_string(),
    })?;
    parse_record_text(&text, path)
}

/// Parses record file text; `path` is used in errors and to resolve `@file` references.
pub fn parse_record_text(text: &str, path: &Path) -> Result<RecordDraft, RecordFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let err = |line: Option<usize>, field: Option<String>, message: String| RecordFileError {
        path: path.to_owned(),
        line,
        field,
        message,
    };
    let (fields, body, source) = if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(Some(e.line()), None, format!("not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else { unreachable!("starts with a brace") };
        (map, String::new(), Source::Json(text))
    } else {
        let (front, body) = split_front_matter(text).ok_or_else(|| {
            err(
                Some(1),
                None,
                "expected TOML front matter between `+++` lines at the top of the file, or a JSON object".into(),
            )
        })?;
        // A blank first line keeps the TOML parser's line numbers equal to the file's.
        let table: toml::Table = toml::from_str(&format!("\n{front}")).map_err(|e| {
            let line = e.span().map(|s| 1 + front_line_of_offset(front, s.start.saturating_sub(1)));
            err(line, None, e.message().trim().to_owned())
        })?;
        let json = serde_json::to_value(table).map_err(|e| err(None, None, e.to_string()))?;
        let serde_json::Value::Object(map) = json else { unreachable!("a table") };
        (map, body.to_owned(), Source::FrontMatter(front))
    };
    let mut fields = fields;
    let located = |field: &str, message: String| err(source.line_of(field), Some(field.to_owned()), message);

    let take_ref = |fields: &mut serde_json::Map<String, serde_json::Value>,
                    key: &str|
     -> Result<Option<RecordRef>, RecordFileError> {
        match fields.remove(key) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(parse_ref(&s, path).map_err(|m| located(key, m))?)),
            Some(_) => Err(located(key, "expected a record id, id prefix or @file reference".into())),
        }
    };

    if fields.get("kind").and_then(|k| k.as_str()) == Some("withdrawal") {
        fields.remove("kind");
        let withdraws = take_ref(&mut fields, "withdraws")?
            .ok_or_else(|| err(None, Some("withdraws".into()), "a withdrawal names the record it withdraws".into()))?;
        let reason = match fields.remove("reason") {
            Some(serde_json::Value::String(s)) => s,
            None if !body.trim().is_empty() => body.trim().to_owned(),
            _ => {
                return Err(err(None, Some("reason".into()), "a withdrawal needs a reason".into()));
            }
        };
        if let Some(extra) = fields.keys().next() {
            return Err(located(extra, "unknown field in a withdrawal (expected kind, withdraws, reason)".into()));
        }
        return Ok(RecordDraft { path: path.to_owned(), content: DraftContent::Withdrawal { withdraws, reason } });
    }

    let supersedes = take_ref(&mut fields, "supersedes")?;
    let has_body_field = fields.contains_key("body");
    if has_body_field && !body.trim().is_empty() {
        return Err(located("body", "the body is given both as a field and as Markdown after the front matter".into()));
    }
    let mut publication: Publication = from_value(fields).map_err(|(field, message)| {
        let top = field.split(['.', '[']).next().unwrap_or_default().to_owned();
        err(source.line_of(&top), Some(field).filter(|f| !f.is_empty() && f != "."), message)
    })?;
    if !has_body_field {
        publication.body = body.trim_start_matches(['\r', '\n']).trim_end().to_owned();
        if !publication.body.is_empty() {
            publication.body.push('\n');
        }
    }
    publication.validate().map_err(|e| {
        let top = e.field.split(['.', '[']).next().unwrap_or_default().to_owned();
        err(source.line_of(&top), Some(e.field), e.reason)
    })?;
    Ok(RecordDraft {
        path: path.to_owned(),
        content: DraftContent::Publication { publication: Box::new(publication), supersedes },
    })
}

fn from_value<T: DeserializeOwned>(map: serde_json::Map<String, serde_json::Value>) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(serde_json::Value::Object(map))
        .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
}

fn parse_ref(s: &str, referrer: &Path) -> Result<RecordRef, String> {
    if let Some(rel) = s.strip_prefix('@') {
        let base = referrer.parent().unwrap_or(Path::new(""));
        return Ok(RecordRef::File(base.join(rel)));
    }
    if (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(RecordRef::Id(s.to_owned()))
    } else {
        Err(format!("{s:?} is neither a record id (lowercase hex, at least 4 digits) nor an @file reference"))
    }
}

/// Splits `+++\n<toml>\n+++\n<body>`.
fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("+++\n").or_else(|| text.strip_prefix("+++\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

fn front_line_of_offset(front: &str, offset: usize) -> usize {
    // Line 1 of the file is the opening `+++`; the front matter starts on line 2.
    1 + front[..offset.min(front.len())].matches('\n').count()
}

enum Source<'a> {
    FrontMatter(&'a str),
    Json(&'a str),
}

impl Source<'_> {
    /// The 1-based file line where top-level `field` is written, if it can be found.
    fn line_of(&self, field: &str) -> Option<usize> {
        if field.is_empty() {
            return None;
        }
        match self {
            Source::FrontMatter(front) => front
                .lines()
                .position(|l| {
                    let l = l.trim_start();
                    let key = l.trim_start_matches('[').trim_start();
                    (l.starts_with('[')
                        && (key.starts_with(&format!("{field}]")) || key.starts_with(&format!("{field}."))))
                        || l.strip_prefix(field).is_some_and(|r| r.trim_start().starts_with('='))
                })
                .map(|i| i + 2),
            Source::Json(text) => text.lines().position(|l| l.contains(&format!("\"{field}\""))).map(|i| i + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{KeyFactor, Kind};

    fn parse(text: &str) -> Result<RecordDraft, RecordFileError> {
        parse_record_text(text, Path::new("records/kz-hotline.md"))
    }

    const GOOD: &str = "+++\nkind = \"best-practice\"\ntitle = \"Hotline\"\nlanguage = \"en\"\nfactors = [\"transparency\", \"private-sector\"]\nsupersedes = \"@old.md\"\n\n[best_practice]\nproblem = \"Bribes at the border\"\n[[best_practice.results]]\nname = \"complaints\"\nvalue = 12.5\n+++\n\n# Hotline\n\nText.\n";

    #[test]
    fn front_matter_record_parses_with_body_and_reference() {
        let draft = parse(GOOD).unwrap();
        let DraftContent::Publication { publication, supersedes } = draft.content else { panic!() };
        assert_eq!(publication.kind, Kind::BestPractice);
        assert_eq!(publication.factors, vec![KeyFactor::Transparency, KeyFactor::PrivateSector]);
        assert_eq!(publication.body, "# Hotline\n\nText.\n");
        assert_eq!(publication.best_practice.unwrap().results[0].value.to_string(), "12.5");
        assert_eq!(supersedes, Some(RecordRef::File(PathBuf::from("records/old.md"))));
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse(&GOOD.replace("factors = [\"transparency\", \"private-sector\"]", "factors = []")).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(5), Some("factors")), "{e}");
        assert!(e.to_string().starts_with("records/kz-hotline.md:5: field `factors`: at least one key factor"), "{e}");

        let e = parse(&GOOD.replace("factors = [\"transparency\"", "factors = [\"honesty\"")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("factors[0]"), "{e}");
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("unknown key factor \"honesty\""), "{e}");

        let e = parse(&GOOD.replace("title = \"Hotline\"\n", "")).unwrap_err();
        assert!(e.message.contains("missing field `title`"), "{e}");

        let e = parse(&GOOD.replace("language = \"en\"", "language = \"en\"\nauthor = \"KZ\"")).unwrap_err();
        assert!(e.message.contains("unknown field `author`"), "{e}");

        let e = parse("+++\nkind = \"event\"\ntitle = \"x\nlanguage = \"en\"\n+++\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn json_and_withdrawal_files() {
        let d = parse(r#"{"kind": "code-of-conduct", "title": "Кодекс", "language": "ru", "factors": ["code-of-conduct"], "body": "Текст"}"#).unwrap();
        assert!(matches!(d.content, DraftContent::Publication { .. }));
        let w =
            parse("+++\nkind = \"withdrawal\"\nwithdraws = \"abcdef12\"\n+++\nSuperseded by the 2025 plan.\n").unwrap();
        assert_eq!(
            w.content,
            DraftContent::Withdrawal {
                withdraws: RecordRef::Id("abcdef12".into()),
                reason: "Superseded by the 2025 plan.".into()
            }
        );
    }
}
