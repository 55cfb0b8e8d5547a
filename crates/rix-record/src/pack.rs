//! The `signed` export format: a file of many envelopes, byte-exact, that proves it is whole.
//!
//! ```text
//! pack v2 = "RIXPACK" 0x02 (8 bytes) || entry* || end
//! entry   = kind (1 byte: 0x01 record, 0x02 equivocation evidence)
//!           || length (u32, big-endian) || envelope (length bytes, at most MAX_RECORD_BYTES)
//! end     = 0x00 || count (u64, big-endian: entries before it) || digest (32 bytes)
//! digest  = SHA-256 of every entry's bytes, in order (kind, length and envelope of each)
//!
//! pack v1 = "RIXPACK" 0x01 (8 bytes) || (length (u32, big-endian) || envelope)*
//! ```
//! Version 1 (rix before 2026-12) has no end: a cut at an entry boundary, or dropped,
//! duplicated or reordered entries, could not be told from a whole pack. Version 2 is what rix
//! writes; both are read. In version 2 a pack cut anywhere lacks its end, a dropped or
//! duplicated entry makes the count wrong, and any change of order or content makes the digest
//! wrong: [`PackReader`] reports each as an error when it reaches the end, so a reader that
//! reads a pack through before storing anything (as `rix import` does) stores nothing from a
//! damaged one. Entries are not verified here (the importer verifies each one).

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::envelope::MAX_RECORD_BYTES;

/// The first eight bytes of a version 2 pack.
pub const PACK_MAGIC: [u8; 8] = *b"RIXPACK\x02";
/// The first eight bytes of a version 1 pack (still read).
pub const PACK_MAGIC_V1: [u8; 8] = *b"RIXPACK\x01";

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A record of the replica.
    Record,
    /// A record kept as evidence that its author signed two records with one sequence number
    /// (the replica holds another record with that number).
    Evidence,
    /// A charter amendment (`RIXM`) or approval (`RIXV`), record-format.md §10.
    Charter,
}

impl EntryKind {
    fn byte(self) -> u8 {
        match self {
            Self::Record => 1,
            Self::Evidence => 2,
            Self::Charter => 3,
        }
    }
}

/// A pack that cannot be read, or is not whole.
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
    /// A version 2 pack that ends without its end marker: cut short.
    #[error("the pack is cut short: it ends after {entries} entries without its end marker")]
    NoEnd {
        /// Entries read.
        entries: usize,
    },
    /// An entry of a kind this version does not know.
    #[error("entry {index} has kind {kind}, which is neither a record (1) nor evidence (2)")]
    UnknownKind {
        /// 0-based entry number.
        index: usize,
        /// The byte.
        kind: u8,
    },
    /// The end marker counts a different number of entries than were read.
    #[error("the pack says it holds {expected} entries, but {found} were read: entries were dropped or added")]
    CountMismatch {
        /// The end marker's count.
        expected: u64,
        /// Entries read.
        found: u64,
    },
    /// The entries do not hash to the end marker's digest.
    #[error("the pack's entries do not match its digest: an entry was changed, duplicated or reordered")]
    DigestMismatch,
    /// Bytes follow the end marker.
    #[error("bytes follow the pack's end marker: two packs joined, or a damaged file")]
    TrailingData,
}

/// Writes a version 2 pack: header, entries, and (by [`PackWriter::finish`]) the end marker.
/// A pack not finished is a pack cut short, and every reader refuses it.
pub struct PackWriter<W: Write> {
    out: W,
    digest: Sha256,
    count: u64,
}

impl<W: Write> PackWriter<W> {
    /// Writes the header.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&PACK_MAGIC)?;
        Ok(Self { out, digest: Sha256::new(), count: 0 })
    }

    /// Writes one entry.
    pub fn write(&mut self, kind: EntryKind, envelope: &[u8]) -> io::Result<()> {
        let len = u32::try_from(envelope.len()).map_err(|_| io::Error::other("envelope too large"))?;
        let head = [&[kind.byte()][..], &len.to_be_bytes()].concat();
        self.digest.update(&head);
        self.digest.update(envelope);
        self.out.write_all(&head)?;
        self.out.write_all(envelope)?;
        self.count += 1;
        Ok(())
    }

    /// The output.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The output, to drain what was written (the digest covers every entry regardless).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Entries written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes the end marker and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0])?;
        self.out.write_all(&self.count.to_be_bytes())?;
        self.out.write_all(&self.digest.finalize())?;
        Ok(self.out)
    }
}

/// Writes a version 1 header (for tests of the older format; rix writes version 2).
pub fn write_header_v1(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&PACK_MAGIC_V1)
}

/// Writes one version 1 entry (for tests of the older format).
pub fn write_entry_v1(out: &mut impl Write, envelope: &[u8]) -> io::Result<()> {
    let len = u32::try_from(envelope.len()).map_err(|_| io::Error::other("envelope too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(envelope)
}

/// Reads the entries of a pack of either version one by one; in version 2, checks the end
/// marker when it reaches it (an error there is the last item).
pub struct PackReader<R> {
    input: R,
    version: u8,
    index: usize,
    digest: Sha256,
    done: bool,
}

impl<R: Read> PackReader<R> {
    /// Checks the header and returns a reader positioned at the first entry.
    pub fn new(mut input: R) -> Result<Self, PackError> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).map_err(|_| PackError::BadMagic)?;
        let version = match magic {
            PACK_MAGIC => 2,
            PACK_MAGIC_V1 => 1,
            _ => return Err(PackError::BadMagic),
        };
        Ok(Self { input, version, index: 0, digest: Sha256::new(), done: false })
    }

    /// The pack's format version, 1 or 2.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Reads up to `buf.len()` bytes; how many were read before the end of the input.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    fn next_entry(&mut self) -> Result<Option<(EntryKind, Vec<u8>)>, PackError> {
        let index = self.index;
        let kind = if self.version == 1 {
            EntryKind::Record
        } else {
            let mut kind = [0u8; 1];
            if self.fill(&mut kind)? == 0 {
                return Err(PackError::NoEnd { entries: index });
            }
            match kind[0] {
                0 => return self.end().map(|()| None),
                1 => EntryKind::Record,
                2 => EntryKind::Evidence,
                3 => EntryKind::Charter,
                other => return Err(PackError::UnknownKind { index, kind: other }),
            }
        };
        let mut len = [0u8; 4];
        match self.fill(&mut len)? {
            // A version 1 pack ends at an entry boundary.
            0 if self.version == 1 => return Ok(None),
            4 => {}
            _ => return Err(PackError::Truncated { index }),
        }
        let size = u32::from_be_bytes(len) as usize;
        if size > MAX_RECORD_BYTES {
            return Err(PackError::Oversized { index, len: size });
        }
        let mut envelope = vec![0u8; size];
        if self.fill(&mut envelope)? < size {
            return Err(PackError::Truncated { index });
        }
        if self.version == 2 {
            self.digest.update([kind.byte()]);
            self.digest.update(len);
            self.digest.update(&envelope);
        }
        self.index += 1;
        Ok(Some((kind, envelope)))
    }

    /// Checks the end marker's count and digest, and that nothing follows it.
    fn end(&mut self) -> Result<(), PackError> {
        let mut end = [0u8; 40];
        if self.fill(&mut end)? < end.len() {
            return Err(PackError::NoEnd { entries: self.index });
        }
        let expected = u64::from_be_bytes(end[..8].try_into().expect("8 bytes"));
        if expected != self.index as u64 {
            return Err(PackError::CountMismatch { expected, found: self.index as u64 });
        }
        if self.digest.clone().finalize()[..] != end[8..] {
            return Err(PackError::DigestMismatch);
        }
        if self.fill(&mut [0u8; 1])? != 0 {
            return Err(PackError::TrailingData);
        }
        Ok(())
    }
}

impl<R: Read> Iterator for PackReader<R> {
    type Item = Result<(EntryKind, Vec<u8>), PackError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(entries: &[(EntryKind, &[u8])]) -> Vec<u8> {
        let mut w = PackWriter::new(Vec::new()).unwrap();
        for (kind, e) in entries {
            w.write(*kind, e).unwrap();
        }
        w.finish().unwrap()
    }

    fn read(bytes: &[u8]) -> Result<Vec<(EntryKind, Vec<u8>)>, PackError> {
        PackReader::new(bytes)?.collect()
    }

    const ENTRIES: [(EntryKind, &[u8]); 3] =
        [(EntryKind::Record, b"one"), (EntryKind::Record, b"two!"), (EntryKind::Evidence, b"three")];

    #[test]
    fn a_whole_pack_reads_back_entry_for_entry() {
        let bytes = pack(&ENTRIES);
        let entries = read(&bytes).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2], (EntryKind::Evidence, b"three".to_vec()));
        assert_eq!(read(&pack(&[])).unwrap(), vec![]);
    }

    /// Cut at every byte, no prefix of a pack reads as whole.
    #[test]
    fn a_pack_cut_anywhere_is_refused() {
        let bytes = pack(&ENTRIES);
        for cut in 8..bytes.len() {
            let e = read(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(e, PackError::NoEnd { .. } | PackError::Truncated { .. }),
                "cut at {cut} of {}: {e}",
                bytes.len()
            );
        }
    }

    #[test]
    fn dropped_duplicated_reordered_or_changed_entries_are_refused() {
        let [a, b, c] = ENTRIES;
        // Entries taken from one pack's body and put back in another order or number, with
        // the original end marker: what a damaged copy or a careless splice looks like.
        let body = |entries: &[(EntryKind, &[u8])]| {
            let whole = pack(entries);
            whole[8..whole.len() - 41].to_vec()
        };
        let original = pack(&ENTRIES);
        let end = &original[original.len() - 41..];
        let spliced = |entries: &[(EntryKind, &[u8])]| [&PACK_MAGIC[..], &body(entries), end].concat();
        assert!(matches!(read(&spliced(&[a, c])), Err(PackError::CountMismatch { expected: 3, found: 2 })));
        assert!(matches!(read(&spliced(&[a, b, b, c])), Err(PackError::CountMismatch { expected: 3, found: 4 })));
        assert!(matches!(read(&spliced(&[b, a, c])), Err(PackError::DigestMismatch)));
        let mut changed = original.clone();
        changed[14] ^= 1;
        assert!(matches!(read(&changed), Err(PackError::DigestMismatch)));
        let joined = [&original[..], &original[8..]].concat();
        assert!(matches!(read(&joined), Err(PackError::TrailingData)));
        let mut kind = original.clone();
        kind[8] = 7;
        assert!(matches!(read(&kind), Err(PackError::UnknownKind { index: 0, kind: 7 })));
    }

    #[test]
    fn version_1_packs_still_read() {
        let mut v1 = Vec::new();
        write_header_v1(&mut v1).unwrap();
        write_entry_v1(&mut v1, b"one").unwrap();
        write_entry_v1(&mut v1, b"two!").unwrap();
        let reader = PackReader::new(&v1[..]).unwrap();
        assert_eq!(reader.version(), 1);
        let entries: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(entries, vec![(EntryKind::Record, b"one".to_vec()), (EntryKind::Record, b"two!".to_vec())]);
        assert!(matches!(read(&v1[..v1.len() - 1]), Err(PackError::Truncated { index: 1 })));
        assert!(matches!(PackReader::new(&b"RIXPACK\x03"[..]), Err(PackError::BadMagic)));
    }
}
