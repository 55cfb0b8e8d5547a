//! How the config file's text becomes typed values: TOML read with the path of every field
//! kept, so that an error names the field as well as the line; and addresses written as
//! strings (multiaddresses, `HOST:PORT`) parsed when the file loads, not when they are used.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use rix_net::Multiaddr;
use serde::de::DeserializeOwned;

use crate::config::ConfigError;

/// Reads `text` as `T`; errors name `path`, the dotted field and the line.
pub(crate) fn from_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    let document = toml::Deserializer::parse(text)
        .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
    serde_path_to_error::deserialize(document).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        match field.as_str() {
            // Nothing read yet: the document itself.
            "." | "" => ConfigError::Parse { path: path.to_owned(), message },
            _ => ConfigError::Field { path: path.to_owned(), field, message },
        }
    })
}

/// A value the config writes as a string.
pub(crate) trait Text: FromStr + Display {
    /// What it is, with an example, for errors: "a multiaddress (like /ip4/0.0.0.0/tcp/4001)".
    const EXPECTED: &'static str;
}

impl Text for Multiaddr {
    const EXPECTED: &'static str = "a multiaddress (like /ip4/0.0.0.0/tcp/4001)";
}

impl Text for SocketAddr {
    const EXPECTED: &'static str = "HOST:PORT with an IP address (like 127.0.0.1:7401)";
}

fn parse<T: Text, E: serde::de::Error>(s: &str) -> Result<T, E> {
    s.parse().map_err(|_| E::custom(format!("{s:?} is not {}", T::EXPECTED)))
}

/// `#[serde(with = "text")]`: one value written as a string.
pub(crate) mod text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Text;

    pub(crate) fn serialize<T: Text, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(crate) fn deserialize<'de, T: Text, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        super::parse(&String::deserialize(d)?)
    }
}

/// `#[serde(with = "text_list")]`: a list of values written as strings.
pub(crate) mod text_list {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Text;

    pub(crate) fn serialize<T: Text, S: Serializer>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(&v.to_string())?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, T: Text, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|s| super::parse(s)).collect()
    }
}
