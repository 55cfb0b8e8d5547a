//! [`MemberCode`]: the short code that names a member administration (`KZ`, `JP`, ...).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A member's code: 2 to 16 characters, uppercase ASCII letters, digits or `-`, starting with a
/// letter. The nine Almaty signatories use their ISO 3166 alpha-2 codes; membership is data,
/// so any code of this shape is accepted here and the charter decides who is a member.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberCode(String);

/// A string that is not a valid member code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a member code: {0:?} (expected 2-16 uppercase letters, digits or '-', starting with a letter, e.g. KZ)")]
pub struct InvalidMemberCode(pub String);

impl MemberCode {
    /// The code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MemberCode {
    type Err = InvalidMemberCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (2..=16).contains(&s.len())
            && s.as_bytes()[0].is_ascii_uppercase()
            && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidMemberCode(s.to_owned())) }
    }
}

impl fmt::Display for MemberCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MemberCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MemberCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MemberCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_signatory_codes_and_rejects_others() {
        for code in ["AZ", "CN", "JP", "KZ", "KG", "MN", "RU", "TJ", "UZ", "WCO-SEC"] {
            assert!(code.parse::<MemberCode>().is_ok(), "{code}");
        }
        for bad in ["", "k", "kz", "1Z", "K Z", "ABCDEFGHIJKLMNOPQ"] {
            assert!(bad.parse::<MemberCode>().is_err(), "{bad}");
        }
    }
}
