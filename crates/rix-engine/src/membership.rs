//! The charter chain's application rule: which charter version a set of signed amendments and
//! approvals gives (issue "Membership and keys as signed, replicated data").
//!
//! Version 1 is the genesis charter, identified by its hash. Each later version is made by one
//! amendment, which names the version it amends (by id) and lists changes. An amendment takes
//! effect once a threshold of **distinct** members of the version it amends have approved it
//! with the key that version gives them. The rule is a function of the *set* of amendments and
//! approvals held, never of the order they arrived in, so every node that holds the same set
//! has the same chain of versions:
//!
//! 1. start at the genesis;
//! 2. among the amendments of the current version whose changes apply to it, take those with
//!    at least the threshold of countable approvals; if there are none, stop;
//! 3. of those, the one with the smallest id wins (the tie-break); apply it and go to 2.
//!
//! A node that applied one amendment and later receives the approvals that take a competing
//! amendment of the same version, with a smaller id, over its threshold switches to that one
//! (and to what follows it): the chain is what the set gives, not what arrived first. Under the
//! default majority threshold two competing amendments can both be approved only if some member
//! approved both, which an honest node refuses to do; the switch is then the price of that
//! member's double approval, and every node makes the same one.
//!
//! An approval counts once per member, and only if it was made with the key the amended
//! version gives that member: approvals by non-members, by removed members and by rotated-out
//! keys count for nothing, and several by one key count once (python-tuf's
//! GHSA-r7vq-6425-j94w was the opposite).
//!
//! Pure logic, generic over what a version holds ([`State`]): how changes apply, who may approve
//! with which key and how many must. Signatures are checked before an approval reaches it (an
//! [`Approval`] carries the key that verified it), so the same rule runs on the full signed
//! charter in the daemon and on a [`Roster`] of small integers in the simulator ([`sim`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

pub mod sim;

/// What one version of a chain holds: the daemon's charter, or the simulator's [`Roster`].
pub trait State: Clone + Debug + PartialEq {
    /// A member's code.
    type Member: Ord + Clone + Debug;
    /// A member's signing key.
    type Key: Ord + Clone + Debug;
    /// An amendment's id, which is also the id of the version it makes.
    type Id: Ord + Clone + Debug;
    /// One change an amendment makes.
    type Change: Clone + Debug + PartialEq;
    /// Why a list of changes does not apply.
    type Error: Debug;

    /// The state after `changes`, applied in order and whole, or why not.
    fn apply(&self, changes: &[Self::Change]) -> Result<Self, Self::Error>;
    /// The key whose approvals count for `member` in this version (none for a non-member, or
    /// a member whose key is revoked and not yet replaced).
    fn approver_key(&self, member: &Self::Member) -> Option<&Self::Key>;
    /// The number of distinct approvals an amendment of this version needs (at least 1).
    fn needed(&self) -> usize;
}

/// The types a [`Roster`] is made of.
pub trait ChainTypes: Clone + Debug + PartialEq + Eq + PartialOrd + Ord {
    /// A member's code.
    type Member: Ord + Clone + Debug;
    /// A member's signing key.
    type Key: Ord + Clone + Debug;
    /// An amendment's id, which is also the id of the version it makes (the genesis has its
    /// own hash).
    type Id: Ord + Clone + Debug;
}

/// How many approvals an amendment needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Threshold {
    /// More than half of the current members (the default).
    Majority,
    /// Exactly this many, at least 1 and at most the number of members.
    Fixed(usize),
}

/// Who may approve, and how many must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster<T: ChainTypes> {
    /// Each member's current key.
    pub members: BTreeMap<T::Member, T::Key>,
    /// The threshold rule.
    pub threshold: Threshold,
}

impl<T: ChainTypes> State for Roster<T> {
    type Member = T::Member;
    type Key = T::Key;
    type Id = T::Id;
    type Change = Change<T>;
    type Error = ChangeError;

    fn needed(&self) -> usize {
        match self.threshold {
            Threshold::Majority => self.members.len() / 2 + 1,
            Threshold::Fixed(k) => k,
        }
    }

    fn approver_key(&self, member: &T::Member) -> Option<&T::Key> {
        self.members.get(member)
    }

    /// `Err` names the first change that does not apply (an amendment applies whole or not
    /// at all).
    fn apply(&self, changes: &[Change<T>]) -> Result<Roster<T>, ChangeError> {
        let mut next = self.clone();
        for (i, change) in changes.iter().enumerate() {
            let fail = |why| Err(ChangeError { index: i, why });
            match change {
                Change::Admit { member, key } => {
                    if next.members.contains_key(member) {
                        return fail("already a member");
                    }
                    if next.members.values().any(|k| k == key) {
                        return fail("key already in use");
                    }
                    next.members.insert(member.clone(), key.clone());
                }
                Change::Remove { member } => {
                    if next.members.remove(member).is_none() {
                        return fail("not a member");
                    }
                }
                Change::RotateKey { member, key } => {
                    if next.members.values().any(|k| k == key) {
                        return fail("key already in use");
                    }
                    match next.members.get_mut(member) {
                        Some(k) => *k = key.clone(),
                        None => return fail("not a member"),
                    }
                }
                Change::SetThreshold(t) => next.threshold = *t,
            }
        }
        if next.members.is_empty() {
            return Err(ChangeError { index: changes.len(), why: "no member would be left" });
        }
        if let Threshold::Fixed(k) = next.threshold
            && !(1..=next.members.len()).contains(&k)
        {
            return Err(ChangeError { index: changes.len(), why: "threshold outside 1..=members" });
        }
        Ok(next)
    }
}

/// One change an amendment makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T: ChainTypes> {
    /// A new member with its key.
    Admit {
        /// Its code.
        member: T::Member,
        /// Its signing key.
        key: T::Key,
    },
    /// A member leaves.
    Remove {
        /// Its code.
        member: T::Member,
    },
    /// A member's new key (the signature by the new key is checked before: proof of
    /// possession).
    RotateKey {
        /// Its code.
        member: T::Member,
        /// The new key.
        key: T::Key,
    },
    /// A new threshold rule.
    SetThreshold(Threshold),
}

/// Why a change list does not apply to a roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeError {
    /// The index of the change (the list's length for a check of the result).
    pub index: usize,
    /// What is wrong.
    pub why: &'static str,
}

/// A proposed amendment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amendment<S: State> {
    /// Its id (the hash of its signed form), which becomes the new version's id.
    pub id: S::Id,
    /// The id of the version it amends.
    pub amends: S::Id,
    /// What it changes, in order.
    pub changes: Vec<S::Change>,
}

/// An approval whose signature has been verified with `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval<S: State> {
    /// The amendment approved.
    pub amendment: S::Id,
    /// The member it claims to be from.
    pub member: S::Member,
    /// The key that verified its signature.
    pub key: S::Key,
}

/// One version of the charter.
#[derive(Debug, Clone, PartialEq)]
pub struct Version<S: State> {
    /// 1 for the genesis, then 2, 3, ...
    pub number: u64,
    /// The genesis hash, or the id of the amendment that made it.
    pub id: S::Id,
    /// What it holds.
    pub state: S,
    /// The members whose approvals counted for it, none for the genesis.
    pub approved_by: BTreeSet<S::Member>,
}

/// The keys each member approved one amendment with.
type KeysByMember<S> = BTreeMap<<S as State>::Member, BTreeSet<<S as State>::Key>>;

/// The amendments and approvals a node holds, and the versions they give.
#[derive(Debug, Clone)]
pub struct Chain<S: State> {
    genesis: Version<S>,
    /// Amendments by the version they amend, then by id.
    amendments: BTreeMap<S::Id, BTreeMap<S::Id, Amendment<S>>>,
    /// Approvals by amendment.
    approvals: BTreeMap<S::Id, KeysByMember<S>>,
}

impl<S: State> Chain<S> {
    /// A chain holding only the genesis `state`, whose hash is `id`.
    pub fn new(id: S::Id, state: S) -> Self {
        Self {
            genesis: Version { number: 1, id, state, approved_by: BTreeSet::new() },
            amendments: BTreeMap::new(),
            approvals: BTreeMap::new(),
        }
    }

    /// Adds an amendment; false if it was already held.
    pub fn add_amendment(&mut self, amendment: Amendment<S>) -> bool {
        let of_version = self.amendments.entry(amendment.amends.clone()).or_default();
        if of_version.contains_key(&amendment.id) {
            return false;
        }
        of_version.insert(amendment.id.clone(), amendment);
        true
    }

    /// Adds a verified approval; false if it was already held.
    pub fn add_approval(&mut self, approval: Approval<S>) -> bool {
        self.approvals.entry(approval.amendment).or_default().entry(approval.member).or_default().insert(approval.key)
    }

    /// The amendments held, by the version they amend.
    pub fn amendments(&self) -> impl Iterator<Item = &Amendment<S>> {
        self.amendments.values().flat_map(|of_version| of_version.values())
    }

    /// The members whose approvals of `amendment` count under `state`: each once, and only
    /// with the key the state gives it.
    pub fn counted(&self, amendment: &S::Id, state: &S) -> BTreeSet<S::Member> {
        let Some(by_member) = self.approvals.get(amendment) else { return BTreeSet::new() };
        by_member
            .iter()
            .filter(|(member, keys)| state.approver_key(member).is_some_and(|key| keys.contains(key)))
            .map(|(member, _)| member.clone())
            .collect()
    }

    /// The members who approved `amendment`, whatever their approvals count for.
    pub fn approvers(&self, amendment: &S::Id) -> BTreeSet<S::Member> {
        self.approvals.get(amendment).map(|by_member| by_member.keys().cloned().collect()).unwrap_or_default()
    }

    /// Every version, the genesis first: the rule of the module's documentation.
    pub fn versions(&self) -> Vec<Version<S>> {
        let mut chain = vec![self.genesis.clone()];
        loop {
            let current = chain.last().expect("the genesis at least");
            let Some(candidates) = self.amendments.get(&current.id) else { break };
            // In id order, so the first that qualifies is the tie-break's winner.
            let winner = candidates.values().find_map(|a| {
                let state = current.state.apply(&a.changes).ok()?;
                let approved_by = self.counted(&a.id, &current.state);
                (approved_by.len() >= current.state.needed()).then_some((a, state, approved_by))
            });
            let Some((amendment, state, approved_by)) = winner else { break };
            // An id already on the chain would loop; ids are hashes, so only forged data could.
            if chain.iter().any(|v| v.id == amendment.id) {
                break;
            }
            chain.push(Version { number: current.number + 1, id: amendment.id.clone(), state, approved_by });
        }
        chain
    }

    /// The current version.
    pub fn head(&self) -> Version<S> {
        self.versions().pop().expect("the genesis at least")
    }
}

#[cfg(test)]
mod tests;
