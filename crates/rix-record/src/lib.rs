//! The rix record: what a customs administration publishes, how it is encoded, signed and
//! verified, and the charter that says who may publish.
//!
//! This crate knows nothing of storage or networking. Everything that enters a replica passes
//! through [`SignedRecord::verify`], which is the only way to obtain a [`VerifiedRecord`]; the
//! store accepts nothing else, so a forged or unsigned record cannot be stored by construction.
//!
//! The byte-level format is specified in `docs/record-format.md`; the test vectors there are
//! checked by `tests/vectors.rs` in this crate.
#![deny(missing_docs)]

pub mod amendment;
pub mod author;
pub mod canonical;
pub mod charter;
pub mod charter_state;
pub mod content;
pub mod envelope;
pub mod file;
pub mod id;
pub mod keys;
pub mod member;
pub mod pack;
pub mod template;
pub mod timefmt;
pub mod vocab;

pub use author::{Author, ChainHead};
pub use charter::{Charter, CharterError, CharterMember, Cutoff, Observer, RetiredKey, Retirement};
pub use charter_state::{ChangeRefused, CharterState, Refusal};
pub use content::{Content, LanguageTag, Publication, Record, Withdrawal};
pub use envelope::{MAX_RECORD_BYTES, SIGNING_CONTEXT, SignedRecord, VerifiedRecord, VerifyError, verify_batch};
pub use id::RecordId;
pub use keys::{KeyError, MemberKey};
pub use member::MemberCode;
pub use timefmt::{Date, Timestamp};
pub use vocab::{Approach, CycleStage, KeyFactor, Kind, Theme};
