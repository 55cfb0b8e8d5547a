//! Time values in records: [`Timestamp`] (an instant, RFC 3339 UTC to the second) and [`Date`]
//! (a calendar day). Both have exactly one textual form, so they encode canonically.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const TIMESTAMP_FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const DATE_FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// A malformed date or timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: expected {expected}")]
pub struct InvalidTime {
    what: &'static str,
    value: String,
    expected: &'static str,
}

/// An instant with second precision, always written `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, truncated to the second.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    /// From Unix seconds; `None` outside years 0000-9999.
    pub fn from_unix(secs: i64) -> Option<Self> {
        let t = OffsetDateTime::from_unix_timestamp(secs).ok()?;
        (0..=9999).contains(&t.year()).then_some(Self(secs))
    }

    /// Unix seconds.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The calendar year (UTC).
    pub fn year(self) -> i32 {
        self.to_offset().year()
    }

    /// The UTC calendar day.
    pub fn date(self) -> Date {
        Date(self.to_offset().date())
    }

    fn to_offset(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0).expect("constructed in range")
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTime;

    fn from_str(s: &str) -> Result<Self, InvalidTime> {
        let err = || InvalidTime {
            what: "timestamp",
            value: s.to_owned(),
            expected: "RFC 3339 UTC to the second, e.g. 2026-11-28T06:52:03Z",
        };
        if !shaped(s, b"dddd-dd-ddTdd:dd:ddZ") {
            return Err(err());
        }
        let t = PrimitiveDateTime::parse(s, TIMESTAMP_FORMAT).map_err(|_| err())?;
        Self::from_unix(t.assume_offset(UtcOffset::UTC).unix_timestamp()).ok_or_else(err)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_offset().format(TIMESTAMP_FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A calendar day, written `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    /// The first second of this day, UTC.
    pub fn start(self) -> Timestamp {
        Timestamp(self.0.midnight().assume_utc().unix_timestamp())
    }
}

impl FromStr for Date {
    type Err = InvalidTime;

    fn from_str(s: &str) -> Result<Self, InvalidTime> {
        let err = || InvalidTime { what: "date", value: s.to_owned(), expected: "YYYY-MM-DD, e.g. 2007-01-19" };
        if !shaped(s, b"dddd-dd-dd") {
            return Err(err());
        }
        time::Date::parse(s, DATE_FORMAT).map(Self).map_err(|_| err())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(DATE_FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

macro_rules! serde_via_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // TOML front matter may hold a native date; accept its textual form too.
                let s = StringOrTomlDate::deserialize(d)?.0;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_string!(Timestamp);
serde_via_string!(Date);

/// Accepts a string, or a TOML datetime (which serde sees as a one-field struct), as text.
struct StringOrTomlDate(String);

impl<'de> Deserialize<'de> for StringOrTomlDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date or timestamp string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_owned())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<String, A::Error> {
                let mut out = None;
                while let Some((_k, v)) = m.next_entry::<String, String>()? {
                    out = Some(v);
                }
                out.ok_or_else(|| serde::de::Error::custom("empty datetime"))
            }
        }
        d.deserialize_any(V).map(StringOrTomlDate)
    }
}

/// Whether `s` has exactly the shape of `pattern`, where `d` is an ASCII digit and any other
/// byte stands for itself. The `time` crate's parser also takes a signed year (`+2007`,
/// `-0001`): a second spelling of a date, or a date the spec does not have
/// (record-format.md §4.1).
fn shaped(s: &str, pattern: &[u8]) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern).all(|(b, &p)| if p == b'd' { b.is_ascii_digit() } else { b == p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_instant() {
        let t: Timestamp = "2007-01-19T10:00:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2007-01-19T10:00:00Z");
        assert_eq!(t.year(), 2007);
        for bad in ["2007-01-19T10:00:00+00:00", "2007-01-19T10:00:00.5Z", "2007-01-19", "2007-13-01T00:00:00Z"] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
        let d: Date = "2007-01-19".parse().unwrap();
        assert_eq!(d.to_string(), "2007-01-19");
        assert!("2007-1-19".parse::<Date>().is_err());
    }

    #[test]
    fn toml_native_dates_are_accepted() {
        #[derive(Deserialize)]
        struct T {
            d: Date,
        }
        let t: T = toml::from_str("d = 2007-01-19").unwrap();
        assert_eq!(t.d.to_string(), "2007-01-19");
    }
}
