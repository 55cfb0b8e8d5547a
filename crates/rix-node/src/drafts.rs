//! [`DraftResolver`]: record files to signed content, resolving their `supersedes` and
//! `withdraws` references through any [`Backend`].

use std::collections::HashMap;
use std::path::PathBuf;

use rix_api::{Backend, Error, ErrorKind};
use rix_record::file::{DraftContent, RecordDraft, RecordRef};
use rix_record::{Content, MemberCode, RecordId, Withdrawal};
use rix_store::query::RecordFilter;

/// Turns record drafts into content, resolving `supersedes` / `withdraws` references.
///
/// `@file` references resolve to the record published from that file earlier in the same
/// run, or else to this member's current record with that file's title.
pub struct DraftResolver<'a> {
    backend: &'a dyn Backend,
    member: Option<MemberCode>,
    published: HashMap<PathBuf, RecordId>,
}

impl<'a> DraftResolver<'a> {
    /// A resolver publishing as `member`.
    pub fn new(backend: &'a dyn Backend, member: Option<MemberCode>) -> Self {
        Self { backend, member, published: HashMap::new() }
    }

    /// Notes that the draft from `path` was published as `id`.
    pub fn note_published(&mut self, path: &std::path::Path, id: RecordId) {
        self.published.insert(normalise(path), id);
    }

    /// The content to sign for `draft`.
    pub fn content(&self, draft: &RecordDraft) -> Result<Content, Error> {
        Ok(match &draft.content {
            DraftContent::Publication { publication, supersedes } => {
                let mut p = publication.clone();
                p.supersedes = supersedes.as_ref().map(|r| self.resolve(r)).transpose()?;
                Content::Publication(p)
            }
            DraftContent::Withdrawal { withdraws, reason } => {
                Content::Withdrawal(Withdrawal { withdraws: self.resolve(withdraws)?, reason: reason.clone() })
            }
        })
    }

    fn resolve(&self, reference: &RecordRef) -> Result<RecordId, Error> {
        match reference {
            RecordRef::Id(prefix) => self.backend.resolve(prefix),
            RecordRef::File(path) => {
                if let Some(id) = self.published.get(&normalise(path)) {
                    return Ok(*id);
                }
                let draft = rix_record::file::read_record_file(path)
                    .map_err(|e| Error::refused(ErrorKind::Invalid, e.to_string()))?;
                let DraftContent::Publication { publication, .. } = draft.content else {
                    return Err(Error::refused(
                        ErrorKind::Invalid,
                        format!("{} is a withdrawal, not a publication", path.display()),
                    ));
                };
                let filter = RecordFilter { member: self.member.clone(), ..RecordFilter::default() };
                let found = self.backend.list(&filter)?.records.into_iter().find(|r| r.title == publication.title);
                match found {
                    Some(view) => Ok(view.id),
                    None => Err(Error::refused(
                        ErrorKind::Invalid,
                        format!(
                            "no current record titled {:?} (from {}) has been published by this member yet",
                            publication.title,
                            path.display()
                        ),
                    )),
                }
            }
        }
    }
}

fn normalise(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
