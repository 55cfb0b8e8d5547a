//! Canonical JSON: the one byte sequence that encodes a record payload.
//!
//! The rules are those of RFC 8785 (JSON Canonicalization Scheme) restricted to the values rix
//! uses, which makes them simple to implement in any language:
//! - no insignificant whitespace;
//! - object members sorted by key, comparing keys as sequences of UTF-16 code units
//!   (for the ASCII keys rix uses this is plain byte order);
//! - strings as UTF-8, escaping only `"` `\` and control characters below U+0020
//!   (`\b \t \n \f \r` in short form, the rest as `\u00xx` with lowercase hex);
//! - numbers are integers only, written in shortest decimal form (no `+`, no leading zeros,
//!   no exponent, no fraction, `-0` does not occur). Decimal quantities are strings.
//!
//! The writer is rix's own (rather than relying on a JSON library's map ordering) because a
//! dependency switching on, say, `serde_json/preserve_order` would silently change the bytes.

use serde_json::Value;

/// A value that has no canonical encoding in rix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Floating-point numbers are not part of the record format.
    #[error("non-integer number {0} (decimal quantities are written as strings)")]
    NonInteger(String),
}

/// Encodes a record, amendment or approval canonically, through its JSON tree. Panics only if
/// `value`'s `Serialize` fails, which rix's types never do (no maps with non-string keys).
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    to_canonical_bytes(&serde_json::to_value(value).expect("rix's types serialise to JSON"))
}

/// Encodes `value` canonically.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(CanonicalError::NonInteger(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(to_canonical_bytes(&v).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        assert_eq!(
            canon(json!({"b": 1, "a": [true, null, -3], "aa": {"z": "x", "y": 18446744073709551615u64}})),
            r#"{"a":[true,null,-3],"aa":{"y":18446744073709551615,"z":"x"},"b":1}"#
        );
    }

    #[test]
    fn escapes_like_rfc8785() {
        assert_eq!(
            canon(json!("q\"b\\\u{8}\t\n\u{c}\r\u{1}\u{1f}/é中")),
            "\"q\\\"b\\\\\\b\\t\\n\\f\\r\\u0001\\u001f/é中\""
        );
    }

    #[test]
    fn rejects_floats() {
        assert!(to_canonical_bytes(&json!(1.5)).is_err());
    }

    #[test]
    fn utf16_key_order_differs_from_byte_order_above_the_bmp() {
        // U+FF61 sorts after U+1F600 by bytes but before it by UTF-16 code units (0xD83D).
        let s = canon(json!({"\u{ff61}": 1, "\u{1f600}": 2}));
        assert!(s.find('\u{1f600}').unwrap() < s.find('\u{ff61}').unwrap());
    }
}
