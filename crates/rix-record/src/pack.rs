//! The `signed` export format: a file of many envelopes, byte-exact.
//!
//! ```text
//! pack   = "RIXPACK" 0x01 (8 bytes) || entry*
//! entry  = length (u32, big-endian) || envelope (length bytes, at most MAX_RECORD_BYTES)
//! ```
//! Reading stops with an error at the first entry that is cut short or over the size limit;
//! entries are not verified here (the importer verifies each one).

use std::io::{self, Read, Write};

use crate::envelope::MAX_RECORD_BYTES;

/// The first eight bytes of a pack.
pub const PACK_MAGIC: [u8; 8] = *b"RIXPACK\x01";

/// A pack that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is not a rix pack.
    #[error("not a rix signed export (bad magic bytes; expected a file written by `rix export --format signed`)")]
    BadMagic,
    /// An entry's length is over the limit.
    #[error("entry {index} claims {len} bytes, over the {MAX_RECORD_BYTES}-byte record limit")]
    Oversized {
        /// 0-based entry number.
        index: usize,
        /// The claimed length.
        len: usize,
    },
    /// The file ends inside an entry.
    #[error("entry {index} is cut short (the file ends inside it)")]
    Truncated {
        /// 0-based entry number.
        index: usize,
    },
}

/// Writes a pack header.
pub fn write_header(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&PACK_MAGIC)
}

/// Writes one entry.
pub fn write_entry(out: &mut impl Write, envelope: &[u8]) -> io::Result<()> {
    let len = u32::try_from(envelope.len()).map_err(|_| io::Error::other("envelope too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(envelope)
}

/// Reads the entries of a pack one by one.
pub struct PackReader<R> {
    input: R,
    index: usize,
    done: bool,
}

impl<R: Read> PackReader<R> {
    /// Checks the header and returns a reader positioned at the first entry.
    pub fn new(mut input: R) -> Result<Self, PackError> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).map_err(|_| PackError::BadMagic)?;
        if magic != PACK_MAGIC {
            return Err(PackError::BadMagic);
        }
        Ok(Self { input, index: 0, done: false })
    }
}

impl<R: Read> Iterator for PackReader<R> {
    type Item = Result<Vec<u8>, PackError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let index = self.index;
        let mut len = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.input.read(&mut len[got..]) {
                Ok(0) if got == 0 => {
                    self.done = true;
                    return None;
                }
                Ok(0) => {
                    self.done = true;
                    return Some(Err(PackError::Truncated { index }));
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            }
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_RECORD_BYTES {
            self.done = true;
            return Some(Err(PackError::Oversized { index, len }));
        }
        let mut envelope = vec![0u8; len];
        if self.input.read_exact(&mut envelope).is_err() {
            self.done = true;
            return Some(Err(PackError::Truncated { index }));
        }
        self.index += 1;
        Some(Ok(envelope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let mut buf = Vec::new();
        write_header(&mut buf).unwrap();
        write_entry(&mut buf, b"one").unwrap();
        write_entry(&mut buf, b"two!").unwrap();
        let entries: Vec<_> = PackReader::new(&buf[..]).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(entries, vec![b"one".to_vec(), b"two!".to_vec()]);
        let cut: Vec<_> = PackReader::new(&buf[..buf.len() - 1]).unwrap().collect();
        assert!(matches!(cut.last(), Some(Err(PackError::Truncated { index: 1 }))));
        assert!(matches!(PackReader::new(&b"RIXPACK\x02"[..]), Err(PackError::BadMagic)));
    }
}
