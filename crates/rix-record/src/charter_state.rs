//! What one version of the charter chain holds, and what an amendment's changes do to it
//! (record-format.md §10.4). The rule that picks which amendments apply, in which order, is
//! `rix_engine::membership`; this module is the part that knows what a member, a key, a peer id
//! and an observer are.
//!
//! An amendment applies whole or not at all: its changes apply in order to a copy, each must
//! be allowed by the state the previous ones left, and the result must still have a member and
//! a threshold it can reach. Codes and keys are never reused, even after their member left, so
//! that a record's author and key always name one holder.

use std::collections::BTreeMap;

use crate::amendment::{Change, ThresholdRule};
use crate::charter::{Cutoff, RetiredKey, Retirement, check_multiaddr, check_peer_id};
use crate::keys::AuthorKey;
use crate::{Charter, CharterMember, MemberCode, Observer};

/// Why a change does not apply to a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The member named is not a current member.
    #[error("{0} is not a member")]
    UnknownMember(MemberCode),
    /// The code is a current member's.
    #[error("{0} is already a member")]
    DuplicateCode(MemberCode),
    /// The code belonged to a member that left; codes are never reused.
    #[error("{0} was a member before; a code is never reused")]
    FormerCode(MemberCode),
    /// The key is, or was, some member's key; keys are never reused.
    #[error("key {0} is already in use (keys are never reused)")]
    KeyInUse(String),
    /// The peer id is a member node's or an observer's.
    #[error("peer id {0} is already in use")]
    PeerIdInUse(String),
    /// The observer named is not an observer.
    #[error("{0} is not an observer")]
    UnknownObserver(String),
    /// The key revoked is not one its member holds or held.
    #[error("{key} is not a key of {code}")]
    NotMembersKey {
        /// The member.
        code: MemberCode,
        /// The key, in hex.
        key: String,
    },
    /// The key is already revoked (a cut-off is never moved).
    #[error("{0} is already revoked")]
    AlreadyRevoked(String),
    /// A cut-off with a sequence number needs the id of that record, and one without none.
    #[error("a cut-off after record {after_seq} needs that record's id (and after 0, none)")]
    BadCutoff {
        /// The sequence number given.
        after_seq: u64,
    },
    /// A name, peer id or address is not well formed.
    #[error("{field}: {reason}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A fixed threshold outside 1..=members.
    #[error("threshold {count} is outside 1..={members} (the number of members)")]
    ThresholdOutOfRange {
        /// The threshold.
        count: u64,
        /// The members it would count.
        members: usize,
    },
    /// The amendment would leave no member.
    #[error("no member would be left")]
    NoMemberLeft,
    /// An amendment with no change.
    #[error("an amendment needs at least one change")]
    Empty,
}

/// A change that does not apply: which, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{refusal}", .index.map(|i| format!("change {i}: ")).unwrap_or_default())]
pub struct ChangeRefused {
    /// The change's index in its amendment; none for a check of the whole result (a member
    /// left, a threshold within reach).
    pub index: Option<usize>,
    /// Why.
    pub refusal: Refusal,
}

impl ChangeRefused {
    /// The failure label of record-format.md §10.4.
    pub fn label(&self) -> &'static str {
        match self.refusal {
            Refusal::UnknownMember(_) => "unknown_member",
            Refusal::DuplicateCode(_) | Refusal::FormerCode(_) => "duplicate_code",
            Refusal::KeyInUse(_) => "key_in_use",
            Refusal::PeerIdInUse(_) => "peer_id_in_use",
            Refusal::UnknownObserver(_) => "unknown_observer",
            Refusal::NotMembersKey { .. } | Refusal::AlreadyRevoked(_) | Refusal::BadCutoff { .. } => "bad_revocation",
            Refusal::BadField { .. } => "bad_field",
            Refusal::ThresholdOutOfRange { .. } => "bad_threshold",
            Refusal::NoMemberLeft => "no_member_left",
            Refusal::Empty => "empty",
        }
    }
}

/// One version of the charter: the charter it gives, its number and when each member joined.
#[derive(Debug, Clone, PartialEq)]
pub struct CharterState {
    /// 1 for the genesis.
    pub version: u64,
    /// Members, observers, threshold and retired keys.
    pub charter: Charter,
    /// The version each current member joined in.
    pub joined: BTreeMap<MemberCode, u64>,
}

impl CharterState {
    /// Version 1, from the genesis charter (its members joined in version 1).
    pub fn genesis(charter: Charter) -> Self {
        let joined = charter.members.iter().map(|m| (m.code.clone(), 1)).collect();
        Self { version: 1, charter, joined }
    }

    /// The key whose approvals count for `code`: its current key, unless that key is revoked.
    pub fn approver_key(&self, code: &MemberCode) -> Option<&AuthorKey> {
        let member = self.charter.member(code)?;
        self.charter.retirement(code, &member.public_key).is_none().then_some(&member.public_key)
    }

    /// The next version, after `changes` (see the module documentation).
    pub fn apply(&self, changes: &[Change]) -> Result<CharterState, ChangeRefused> {
        if changes.is_empty() {
            return Err(ChangeRefused { index: None, refusal: Refusal::Empty });
        }
        let mut next = self.clone();
        next.version += 1;
        for (index, change) in changes.iter().enumerate() {
            next.apply_one(change).map_err(|refusal| ChangeRefused { index: Some(index), refusal })?;
        }
        let at_end = |refusal| ChangeRefused { index: None, refusal };
        let members = next.charter.members.len();
        if members == 0 {
            return Err(at_end(Refusal::NoMemberLeft));
        }
        if let Some(ThresholdRule::Fixed { count }) = next.charter.threshold
            && !(1..=members as u64).contains(&count)
        {
            return Err(at_end(Refusal::ThresholdOutOfRange { count, members }));
        }
        Ok(next)
    }

    fn key_used(&self, key: &AuthorKey) -> bool {
        self.charter.members.iter().any(|m| &m.public_key == key)
            || self.charter.retired.iter().any(|r| &r.public_key == key)
    }

    fn peer_used(&self, peer_id: &str) -> bool {
        self.charter.admits_peer(peer_id)
    }

    fn check_node(&self, peer_id: &str, addresses: &[String], except: Option<&MemberCode>) -> Result<(), Refusal> {
        if !peer_id.is_empty() {
            check_peer_id(peer_id).map_err(|reason| Refusal::BadField { field: "peer_id", reason })?;
            let own = except.and_then(|c| self.charter.member(c)).is_some_and(|m| m.peer_id == peer_id);
            if !own && self.peer_used(peer_id) {
                return Err(Refusal::PeerIdInUse(peer_id.to_owned()));
            }
        }
        for address in addresses {
            check_multiaddr(address).map_err(|reason| Refusal::BadField { field: "addresses", reason })?;
        }
        Ok(())
    }

    fn member_mut(&mut self, code: &MemberCode) -> Result<&mut CharterMember, Refusal> {
        self.charter.members.iter_mut().find(|m| &m.code == code).ok_or_else(|| Refusal::UnknownMember(code.clone()))
    }

    fn retire(&mut self, code: &MemberCode, key: &AuthorKey, why: Retirement) {
        let since_version = self.version;
        self.charter.retired.push(RetiredKey { code: code.clone(), public_key: *key, since_version, why });
    }

    fn apply_one(&mut self, change: &Change) -> Result<(), Refusal> {
        match change {
            Change::Admit { code, name, public_key, peer_id, addresses, proof: _ } => {
                if self.charter.member(code).is_some() {
                    return Err(Refusal::DuplicateCode(code.clone()));
                }
                if self.charter.retired.iter().any(|r| &r.code == code) {
                    return Err(Refusal::FormerCode(code.clone()));
                }
                check_name(name)?;
                if self.key_used(public_key) {
                    return Err(Refusal::KeyInUse(public_key.to_string()));
                }
                self.check_node(peer_id, addresses, None)?;
                self.charter.members.push(CharterMember {
                    code: code.clone(),
                    name: name.clone(),
                    public_key: *public_key,
                    peer_id: peer_id.clone(),
                    addresses: addresses.clone(),
                });
                self.joined.insert(code.clone(), self.version);
            }
            Change::Remove { code, after_seq, last_id } => {
                let cutoff = cutoff(*after_seq, *last_id)?;
                let member = self.member_mut(code)?.clone();
                self.charter.members.retain(|m| &m.code != code);
                self.joined.remove(code);
                // A key revoked earlier keeps its own, earlier, cut-off.
                if self.charter.retirement(code, &member.public_key).is_none() {
                    self.retire(code, &member.public_key, Retirement::Removed(cutoff));
                }
            }
            Change::RotateKey { code, public_key, proof: _ } => {
                if self.key_used(public_key) {
                    return Err(Refusal::KeyInUse(public_key.to_string()));
                }
                let old = std::mem::replace(&mut self.member_mut(code)?.public_key, *public_key);
                if self.charter.retirement(code, &old).is_none() {
                    self.retire(code, &old, Retirement::Rotated);
                }
            }
            Change::RevokeKey { code, public_key, after_seq, last_id } => {
                let cutoff = cutoff(*after_seq, *last_id)?;
                let current = self.charter.member(code).is_some_and(|m| &m.public_key == public_key);
                let held = self.charter.retired.iter().position(|r| &r.code == code && &r.public_key == public_key);
                match held {
                    Some(i) if matches!(self.charter.retired[i].why, Retirement::Revoked(_)) => {
                        return Err(Refusal::AlreadyRevoked(public_key.to_string()));
                    }
                    // A rotated-out key, or a removed member's: the revocation's cut-off wins.
                    Some(i) => {
                        let version = self.version;
                        let retired = &mut self.charter.retired[i];
                        retired.since_version = version;
                        retired.why = Retirement::Revoked(cutoff);
                    }
                    None if current => self.retire(code, public_key, Retirement::Revoked(cutoff)),
                    None => return Err(Refusal::NotMembersKey { code: code.clone(), key: public_key.to_string() }),
                }
            }
            Change::SetNode { code, peer_id, addresses } => {
                self.check_node(peer_id, addresses, Some(code))?;
                let member = self.member_mut(code)?;
                member.peer_id = peer_id.clone();
                member.addresses = addresses.clone();
            }
            Change::AddObserver { peer_id, name, addresses } => {
                check_name(name)?;
                if peer_id.is_empty() {
                    return Err(Refusal::BadField { field: "peer_id", reason: "an observer needs a peer id".into() });
                }
                self.check_node(peer_id, addresses, None)?;
                self.charter.observers.push(Observer {
                    name: name.clone(),
                    peer_id: peer_id.clone(),
                    addresses: addresses.clone(),
                });
            }
            Change::RemoveObserver { peer_id } => {
                if self.charter.observer(peer_id).is_none() {
                    return Err(Refusal::UnknownObserver(peer_id.clone()));
                }
                self.charter.observers.retain(|o| &o.peer_id != peer_id);
            }
            Change::SetThreshold { threshold } => {
                if let ThresholdRule::Fixed { count: 0 } = threshold {
                    let members = self.charter.members.len();
                    return Err(Refusal::ThresholdOutOfRange { count: 0, members });
                }
                self.charter.threshold = Some(*threshold);
            }
        }
        Ok(())
    }
}

fn cutoff(after_seq: u64, last_id: Option<crate::RecordId>) -> Result<Cutoff, Refusal> {
    if (after_seq == 0) != last_id.is_none() {
        return Err(Refusal::BadCutoff { after_seq });
    }
    Ok(Cutoff { after_seq, last_id })
}

fn check_name(name: &str) -> Result<(), Refusal> {
    let bad = |reason: &str| Err(Refusal::BadField { field: "name", reason: reason.into() });
    if name.trim().is_empty() {
        return bad("must not be empty");
    }
    if name.chars().count() > 200 {
        return bad("at most 200 characters");
    }
    if name.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
