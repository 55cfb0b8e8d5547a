//! Keys: a member's ed25519 signing key ([`MemberKey`]) and its public half ([`AuthorKey`]),
//! and the on-disk form of secret keys (hex seed in a file readable only by its owner).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Problems with a key file or key text.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file exists and overwriting was not asked for.
    #[error(
        "key file {0} already exists; refusing to overwrite it (pass --force to replace the key, which changes the member's identity)"
    )]
    Exists(PathBuf),
    /// The file does not hold a key.
    #[error("key file {path}: {reason}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Other users can read the file.
    #[error("key file {path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A public key in text form is not 64 hex digits of a valid curve point.
    #[error("not an ed25519 public key: {0}")]
    BadPublicKey(String),
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A member's public signing key, 32 bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthorKey(VerifyingKey);

/// By their bytes, so that sets of keys have one order on every node.
impl Ord for AuthorKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

impl PartialOrd for AuthorKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl AuthorKey {
    /// The ed25519 verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// From 32 key bytes: the canonical encoding of a curve point (RFC 8032 §5.1.3).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        // ed25519-dalek also decodes the non-canonical encodings that RFC 8032 refuses: a y of
        // p or more (y + p for y < 19) and x = 0 with the sign bit set. Refused here, so that
        // an implementation that follows the RFC gives every key the same answer
        // (record-format.md §2.1).
        if non_canonical_point(bytes) {
            return Err(KeyError::BadPublicKey(format!("{} is a non-canonical point encoding", hex::encode(bytes))));
        }
        VerifyingKey::from_bytes(bytes).map(Self).map_err(|e| KeyError::BadPublicKey(e.to_string()))
    }
}

/// Whether 32 bytes are an encoding RFC 8032 §5.1.3 refuses though ed25519-dalek decodes it:
/// y ≥ p = 2^255 − 19, or x = 0 (y = 1 or y = p − 1) with the sign bit set.
fn non_canonical_point(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    // p = 2^255 − 19 is 0xed then 30 bytes 0xff then 0x7f (little-endian): y ≥ p when the
    // upper 31 bytes are those and the lowest at least 0xed; p − 1 ends in 0xec.
    let top_of_p = y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff);
    let at_least_p = top_of_p && y[0] >= 0xed;
    let one = y[0] == 1 && y[1..].iter().all(|&b| b == 0);
    let minus_one = top_of_p && y[0] == 0xec;
    at_least_p || (sign == 1 && (one || minus_one))
}

impl FromStr for AuthorKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadPublicKey(format!("{s:?} (expected 64 lowercase hex digits)"));
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| bad())?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorKey({self})")
    }
}

impl Serialize for AuthorKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuthorKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A member's secret signing key.
pub struct MemberKey(SigningKey);

impl MemberKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self::from_seed(&random_seed()?))
    }

    /// The key for a 32-byte seed (RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half.
    pub fn author_key(&self) -> AuthorKey {
        AuthorKey(self.0.verifying_key())
    }

    /// Signs `message` (the caller adds domain separation).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }

    /// Loads a key written by [`MemberKey::save`], refusing a file other users can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Ok(Self::from_seed(&load_seed(path)?))
    }

    /// Writes the key with mode 0600; fails if the file exists unless `overwrite`.
    pub fn save(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        save_seed(path, &self.seed(), "rix member signing key (ed25519 seed)", overwrite)
    }
}

impl fmt::Debug for MemberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "MemberKey(public {})", self.author_key())
    }
}

/// 32 random bytes from the operating system.
pub fn random_seed() -> Result<[u8; 32], KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(seed)
}

/// Reads a hex seed file (lines starting with `#` are comments), checking its permissions.
pub fn load_seed(path: &Path) -> Result<[u8; 32], KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    let meta = fs::metadata(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path: path.to_owned(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = fs::read_to_string(path).map_err(io)?;
    let hex_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| KeyError::Malformed { path: path.to_owned(), reason: "no key in file".into() })?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(hex_line, &mut seed)
        .map_err(|_| KeyError::Malformed { path: path.to_owned(), reason: "expected 64 hex digits".into() })?;
    Ok(seed)
}

/// Writes a hex seed file with mode 0600 (created that way, never widened then narrowed).
pub fn save_seed(path: &Path, seed: &[u8; 32], what: &str, overwrite: bool) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    if path.exists() && !overwrite {
        return Err(KeyError::Exists(path.to_owned()));
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    writeln!(file, "# {what}. Secret: keep it readable only by the node's user, and back it up.")
        .and_then(|()| writeln!(file, "{}", hex::encode(seed)))
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/signing.key");
        let key = MemberKey::generate().unwrap();
        key.save(&path, false).unwrap();
        assert!(matches!(key.save(&path, false), Err(KeyError::Exists(_))));
        let loaded = MemberKey::load(&path).unwrap();
        assert_eq!(loaded.author_key(), key.author_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(MemberKey::load(&path), Err(KeyError::Permissions { .. })));
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = MemberKey::from_seed(&[7; 32]);
        assert!(!format!("{key:?}").contains(&hex::encode([7u8; 32])));
    }
}

#[cfg(test)]
mod encoding_tests {
    use super::*;

    #[test]
    fn non_canonical_point_encodings_are_refused() {
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xed; // y = p, which ed25519-dalek reads as y = 0
        assert!(AuthorKey::from_bytes(&p).is_err());
        let mut one_negative = [0u8; 32];
        one_negative[0] = 1;
        one_negative[31] = 0x80; // the identity with x = -0
        assert!(AuthorKey::from_bytes(&one_negative).is_err());
        one_negative[31] = 0;
        assert!(
            AuthorKey::from_bytes(&one_negative).is_ok(),
            "the identity itself decodes (and is refused later, as small order)"
        );
        let key = MemberKey::from_seed(&[7; 32]).author_key();
        assert_eq!(AuthorKey::from_bytes(&key.to_bytes()).unwrap(), key);
    }
}
