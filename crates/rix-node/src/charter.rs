//! [`CharterChain`]: the charter versions a node's replica gives. The genesis is the node's
//! `charter.toml`; the amendments and approvals the replica holds make the later versions, by
//! `rix_engine::membership`'s rule applied to `rix_record::charter_state`'s changes. A node
//! opens with the current version and verifies records against it (record-format.md §10).
//!
//! Proposing and approving happen here too, checked against the current version before
//! anything is signed, so that a bad proposal is an error for the operator, not a signed
//! amendment that every node must refuse.

use std::collections::BTreeMap;

use rix_api::charter::{
    CharterLog, CharterMemberView, CharterView, ObserverView, PendingProposals, ProposalView, RetiredKeyView,
    VersionLogEntry,
};
use rix_engine::membership::{self, Chain, State};
use rix_record::amendment::{Amendment, AmendmentBody, Approval, Change, ThresholdRule};
use rix_record::keys::AuthorKey;
use rix_record::{ChangeRefused, Charter, CharterState, MemberCode, MemberKey, RecordId, Retirement, Timestamp};
use rix_store::Replica;

/// Why a charter command is refused.
#[derive(Debug, thiserror::Error)]
pub enum CharterChainError {
    /// The proposal breaks a rule of the current version.
    #[error("the proposal does not apply to charter version {version}: {refused}")]
    Refused {
        /// The current version.
        version: u64,
        /// Which change, and why.
        refused: ChangeRefused,
    },
    /// This node's key does not count as its member's in the current version.
    #[error("{member} cannot propose or approve in charter version {version}: {why}")]
    NotAnApprover {
        /// The member.
        member: MemberCode,
        /// The current version.
        version: u64,
        /// Why not.
        why: &'static str,
    },
    /// No version by that number.
    #[error("there is no charter version {asked}; the current version is {current}")]
    NoSuchVersion {
        /// The number asked for.
        asked: u64,
        /// The current version.
        current: u64,
    },
    /// No proposal held matches the prefix.
    #[error("no proposal {0} is held (see `rix charter pending`)")]
    UnknownProposal(String),
    /// Several proposals match the prefix.
    #[error("{prefix} matches {count} proposals; give more digits")]
    AmbiguousProposal {
        /// The prefix.
        prefix: String,
        /// How many match.
        count: usize,
    },
    /// The amendment would not read back: a proof of possession that does not verify, or it
    /// is too large.
    #[error("{0}")]
    Unreadable(rix_record::amendment::AmendmentError),
    /// A revocation's cut-off names a record this node does not hold.
    #[error(
        "this node holds no record {after_seq} of {member} (its newest is {newest}); a cut-off must name a record that exists"
    )]
    CutoffBeyondHeld {
        /// The member.
        member: MemberCode,
        /// The cut-off asked for.
        after_seq: u64,
        /// The newest record of it held (0: none).
        newest: u64,
    },
    /// The proposal amends another version than the current one.
    #[error("proposal {id} amends version {amends}, not the current version {current}: {why}")]
    NotCurrent {
        /// The proposal.
        id: RecordId,
        /// The version it amends.
        amends: u64,
        /// The current version.
        current: u64,
        /// What became of it.
        why: &'static str,
    },
}

/// The charter version a node judges by, and what it holds of the chain (for sync summaries).
#[derive(Debug, Clone)]
pub struct Current {
    /// The version's charter, which records are verified against.
    pub charter: std::sync::Arc<Charter>,
    /// Its number.
    pub version: u64,
    /// Its id.
    pub hash: RecordId,
    /// What the replica holds of the chain.
    pub summary: rix_engine::wire::CharterSummary,
}

impl Current {
    /// The member codes of this version, as the engine syncs them.
    pub fn members(&self) -> std::collections::BTreeSet<String> {
        self.charter.members.iter().map(|m| m.code.to_string()).collect()
    }
}

/// What checking and storing incoming charter items did.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    /// Stored for the first time.
    pub new: Vec<Vec<u8>>,
    /// Already held.
    pub duplicate: u32,
    /// Refused, with why (for logs and metrics).
    pub invalid: Vec<String>,
    /// Approvals by a key no held amendment gives their approver: not stored, not held
    /// against the sender (the amendment that installs the key may not have arrived yet).
    pub ignored: u32,
}

/// A charter version as the chain rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Version(pub CharterState);

impl State for Version {
    type Member = MemberCode;
    type Key = AuthorKey;
    type Id = RecordId;
    type Change = Change;
    type Error = ChangeRefused;

    fn apply(&self, changes: &[Change]) -> Result<Self, ChangeRefused> {
        self.0.apply(changes).map(Version)
    }

    fn approver_key(&self, member: &MemberCode) -> Option<&AuthorKey> {
        self.0.approver_key(member)
    }

    fn needed(&self) -> usize {
        self.0.charter.needed()
    }
}

/// The charter chain of one replica.
#[derive(Debug, Clone)]
pub struct CharterChain {
    genesis: RecordId,
    network: String,
    chain: Chain<Version>,
    amendments: BTreeMap<RecordId, Amendment>,
    /// Approvals by amendment.
    approvals: BTreeMap<RecordId, Vec<Approval>>,
    versions: Vec<membership::Version<Version>>,
}

impl CharterChain {
    /// The chain `replica` holds on top of the genesis charter `genesis`. Amendments and
    /// approvals of another network or genesis are ignored (they are refused before storing).
    pub fn load(genesis: &Charter, replica: &Replica) -> Result<Self, rix_store::StoreError> {
        let mut this = Self::of_genesis(genesis);
        for amendment in replica.amendments()? {
            this.add_amendment(amendment);
        }
        for approval in replica.approvals()? {
            this.add_approval(approval);
        }
        this.versions = this.chain.versions();
        Ok(this)
    }

    /// The chain of `genesis` alone: version 1.
    pub fn of_genesis(genesis: &Charter) -> Self {
        let genesis_hash = genesis.genesis_hash();
        let chain = Chain::new(genesis_hash, Version(CharterState::genesis(genesis.clone())));
        Self {
            genesis: genesis_hash,
            network: genesis.network.clone(),
            versions: chain.versions(),
            chain,
            amendments: BTreeMap::new(),
            approvals: BTreeMap::new(),
        }
    }

    fn add_amendment(&mut self, amendment: Amendment) {
        if amendment.body.genesis != self.genesis || amendment.body.network != self.network {
            return;
        }
        self.chain.add_amendment(membership::Amendment {
            id: amendment.id,
            amends: amendment.body.amends,
            changes: amendment.body.changes.clone(),
        });
        self.amendments.insert(amendment.id, amendment);
    }

    fn add_approval(&mut self, approval: Approval) {
        if approval.body.network != self.network {
            return;
        }
        self.chain.add_approval(membership::Approval {
            amendment: approval.body.amendment,
            member: approval.body.approver.clone(),
            key: approval.body.key,
        });
        self.approvals.entry(approval.body.amendment).or_default().push(approval);
    }

    /// The genesis hash.
    pub fn genesis(&self) -> RecordId {
        self.genesis
    }

    /// The current version.
    pub fn head(&self) -> &CharterState {
        &self.versions.last().expect("the genesis at least").state.0
    }

    fn head_version(&self) -> &membership::Version<Version> {
        self.versions.last().expect("the genesis at least")
    }

    /// The current version's charter, which records are verified against.
    pub fn charter(&self) -> Charter {
        self.head().charter.clone()
    }

    /// The current version with `replica`'s summary of the chain.
    pub fn current(&self, replica: &Replica) -> Result<Current, rix_store::StoreError> {
        let (items, digest) = replica.charter_digest()?;
        let head = self.head_version();
        Ok(Current {
            charter: std::sync::Arc::new(head.state.0.charter.clone()),
            version: head.number,
            hash: head.id,
            summary: rix_engine::wire::CharterSummary {
                genesis: self.genesis.to_string(),
                items,
                digest: digest.to_string(),
            },
        })
    }

    /// Whether `key` is, or may become, `member`'s key: its key in the genesis, or one that a
    /// held amendment admits or rotates in for it.
    fn may_approve(&self, member: &MemberCode, key: &AuthorKey) -> bool {
        let genesis = &self.versions[0].state.0.charter;
        genesis.member(member).is_some_and(|m| &m.public_key == key)
            || self.amendments.values().flat_map(|a| &a.body.changes).any(|c| match c {
                Change::Admit { code, public_key, .. } | Change::RotateKey { code, public_key, .. } => {
                    code == member && public_key == key
                }
                _ => false,
            })
    }

    /// Checks and stores charter items from a peer (record-format.md §10.6): amendments of
    /// this network and genesis whose form and proofs hold; approvals whose signature holds,
    /// by a key that the genesis or a held amendment gives their approver. Amendments are
    /// taken before approvals, whatever the order received. An amendment of a version this
    /// node has must be numbered after it and its changes must apply to it: one that can
    /// never take effect is refused. By sync (`from_sync`), where a peer sends every amendment
    /// before any approval, an approval by a key no held amendment installs is refused too;
    /// by gossip it is only ignored (its amendment may still be on its way).
    pub fn accept(
        &mut self,
        replica: &Replica,
        items: Vec<Vec<u8>>,
        from_sync: bool,
    ) -> Result<Accepted, rix_store::StoreError> {
        let mut accepted = Accepted::default();
        let (amendments, approvals): (Vec<_>, Vec<_>) = items.into_iter().partition(|i| i.starts_with(b"RIXM"));
        for bytes in amendments {
            match Amendment::from_bytes(&bytes) {
                Err(e) => accepted.invalid.push(e.to_string()),
                Ok(a) if a.body.network != self.network => {
                    accepted.invalid.push(format!("amendment of network {:?}", a.body.network));
                }
                Ok(a) if a.body.genesis != self.genesis => {
                    accepted.invalid.push(format!("amendment of another genesis ({})", a.body.genesis));
                }
                Ok(a) if let Some(why) = self.never_applies(&a) => accepted.invalid.push(why),
                Ok(a) => {
                    if replica.put_amendment(&a)? {
                        self.add_amendment(a);
                        accepted.new.push(bytes);
                    } else {
                        accepted.duplicate += 1;
                    }
                }
            }
        }
        for bytes in approvals {
            match Approval::from_bytes(&bytes) {
                Err(e) => accepted.invalid.push(e.to_string()),
                Ok(a) if a.body.network != self.network => {
                    accepted.invalid.push(format!("approval of network {:?}", a.body.network));
                }
                Ok(a) if !self.may_approve(&a.body.approver, &a.body.key) && from_sync => accepted
                    .invalid
                    .push(format!("approval by {} with a key no amendment gives it ({})", a.body.approver, a.body.key)),
                Ok(a) if !self.may_approve(&a.body.approver, &a.body.key) => accepted.ignored += 1,
                Ok(a) => {
                    if replica.put_approval(&a)? {
                        self.add_approval(a);
                        accepted.new.push(bytes);
                    } else {
                        accepted.duplicate += 1;
                    }
                }
            }
        }
        self.versions = self.chain.versions();
        Ok(accepted)
    }

    /// Why `amendment` can never take effect, if it amends a version this node has: a number
    /// other than that version's + 1, or changes that do not apply to it.
    fn never_applies(&self, amendment: &Amendment) -> Option<String> {
        let amended = self.versions.iter().find(|v| v.id == amendment.body.amends)?;
        if amendment.body.version != amended.number + 1 {
            return Some(format!(
                "amendment {} of version {} says it makes version {}",
                amendment.id, amended.number, amendment.body.version
            ));
        }
        let refused = amended.state.apply(&amendment.body.changes).err()?;
        Some(format!("amendment {} does not apply to version {}: {refused}", amendment.id, amended.number))
    }

    /// `rix charter show`.
    pub fn view(&self, version: Option<u64>) -> Result<CharterView, CharterChainError> {
        let current = self.head().version;
        let asked = version.unwrap_or(current);
        let v = self
            .versions
            .iter()
            .find(|v| v.number == asked)
            .ok_or(CharterChainError::NoSuchVersion { asked, current })?;
        let state = &v.state.0;
        let charter = &state.charter;
        let mut members: Vec<CharterMemberView> = charter
            .members
            .iter()
            .map(|m| CharterMemberView {
                code: m.code.clone(),
                name: m.name.clone(),
                public_key: m.public_key.to_string(),
                peer_id: m.peer_id.clone(),
                addresses: m.addresses.clone(),
                joined: state.joined.get(&m.code).copied().unwrap_or(1),
                key_revoked: charter.retirement(&m.code, &m.public_key).is_some(),
            })
            .collect();
        members.sort_by(|a, b| a.code.cmp(&b.code));
        let mut observers: Vec<ObserverView> = charter
            .observers
            .iter()
            .map(|o| ObserverView { peer_id: o.peer_id.clone(), name: o.name.clone(), addresses: o.addresses.clone() })
            .collect();
        observers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        Ok(CharterView {
            version: v.number,
            hash: v.id,
            genesis: self.genesis,
            network: charter.network.clone(),
            threshold: charter.needed() as u64,
            threshold_rule: charter.threshold.unwrap_or(ThresholdRule::Majority),
            members,
            observers,
            retired_keys: charter.retired.iter().map(RetiredKeyView::of).collect(),
            current: v.number == current,
        })
    }

    /// `rix charter log`.
    pub fn log(&self) -> CharterLog {
        let versions = self
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let amendment = self.amendments.get(&v.id);
                let effective_at = (i > 0).then(|| self.effective_at(&v.id, &self.versions[i - 1])).flatten();
                VersionLogEntry {
                    version: v.number,
                    hash: v.id,
                    proposer: amendment.map(|a| a.body.proposer.clone()),
                    changes: amendment.map(|a| a.body.changes.clone()).unwrap_or_default(),
                    approved_by: v.approved_by.iter().cloned().collect(),
                    effective_at,
                }
            })
            .collect();
        CharterLog { genesis: self.genesis, versions }
    }

    /// When `amendment` reached its threshold under `before`: the time of the counted approval
    /// that made up the number, counted in time order.
    fn effective_at(&self, amendment: &RecordId, before: &membership::Version<Version>) -> Option<Timestamp> {
        let counted = self.chain.counted(amendment, &before.state);
        let mut times: Vec<Timestamp> = self
            .approvals
            .get(amendment)?
            .iter()
            .filter(|a| {
                counted.contains(&a.body.approver) && before.state.approver_key(&a.body.approver) == Some(&a.body.key)
            })
            .map(|a| a.body.created_at)
            .collect();
        times.sort();
        times.dedup();
        times.get(before.state.needed().saturating_sub(1)).or(times.last()).copied()
    }

    /// Where one proposal stands.
    pub fn proposal(&self, id: &RecordId) -> Option<ProposalView> {
        let amendment = self.amendments.get(id)?;
        let amended = self.versions.iter().position(|v| v.id == amendment.body.amends);
        let applied = self.versions.iter().find(|v| v.id == *id).map(|v| v.number);
        let (amends_version, approvals, needed, stale) = match amended {
            Some(i) => {
                let before = &self.versions[i];
                let stale = if applied.is_some() {
                    None
                } else if let Err(refused) = before.state.apply(&amendment.body.changes) {
                    Some(format!("its changes do not apply: {refused}"))
                } else if i + 1 < self.versions.len() {
                    Some(format!("version {} was made by another amendment", before.number + 1))
                } else {
                    None
                };
                let counted = self.chain.counted(id, &before.state).into_iter().collect();
                (before.number, counted, before.state.needed() as u64, stale)
            }
            None => (
                amendment.body.version.saturating_sub(1),
                self.chain.approvers(id).into_iter().collect(),
                0,
                Some("it amends a version this node does not have".into()),
            ),
        };
        Some(ProposalView {
            proposal: *id,
            amends_version,
            amends: amendment.body.amends,
            proposer: amendment.body.proposer.clone(),
            created_at: amendment.body.created_at,
            changes: amendment.body.changes.clone(),
            approvals,
            needed,
            applied,
            stale,
        })
    }

    /// `rix charter pending`: the proposals of the current version not yet applied.
    pub fn pending(&self) -> PendingProposals {
        let head = self.head_version();
        let proposals = self
            .amendments
            .values()
            .filter(|a| a.body.amends == head.id)
            .filter_map(|a| self.proposal(&a.id))
            .collect();
        PendingProposals { version: head.number, proposals }
    }

    /// Checks that `key` counts as `member`'s in the current version.
    fn check_approver(&self, member: &MemberCode, key: &MemberKey) -> Result<(), CharterChainError> {
        let head = self.head();
        let refuse = |why| CharterChainError::NotAnApprover { member: member.clone(), version: head.version, why };
        if head.charter.member(member).is_none() {
            return Err(refuse("it is not a member"));
        }
        match head.approver_key(member) {
            None => Err(refuse("its key is revoked")),
            Some(k) if *k != key.author_key() => Err(refuse("this node's signing key is not its key in the charter")),
            Some(_) => Ok(()),
        }
    }

    /// `rix charter propose`: checks `changes` against the current version, fills each
    /// removal's cut-off with the removed member's newest record held, then signs and stores
    /// the amendment and this member's approval. Returns the proposal's id and the bytes
    /// stored.
    pub fn propose(
        &mut self,
        replica: &Replica,
        member: &MemberCode,
        key: &MemberKey,
        mut changes: Vec<Change>,
        now: Timestamp,
    ) -> Result<(RecordId, Vec<Vec<u8>>), crate::NodeError> {
        self.check_approver(member, key)?;
        for change in &mut changes {
            match change {
                Change::Remove { code, after_seq, last_id } => {
                    let newest = replica.chain(code)?.max_head;
                    *after_seq = newest.map_or(0, |h| h.seq);
                    *last_id = newest.map(|h| h.id);
                }
                Change::RevokeKey { code, after_seq, last_id, .. } if *after_seq > 0 && last_id.is_none() => {
                    *last_id = replica.id_at(code, *after_seq)?;
                    if last_id.is_none() {
                        let newest = replica.head(code)?.map_or(0, |h| h.seq);
                        let (member, after_seq) = (code.clone(), *after_seq);
                        return Err(CharterChainError::CutoffBeyondHeld { member, after_seq, newest }.into());
                    }
                }
                _ => {}
            }
        }
        let head = self.head_version();
        head.state.0.apply(&changes).map_err(|refused| CharterChainError::Refused { version: head.number, refused })?;
        let amendment = Amendment::new(AmendmentBody {
            format: 1,
            network: head.state.0.charter.network.clone(),
            genesis: self.genesis,
            amends: head.id,
            version: head.number + 1,
            proposer: member.clone(),
            created_at: now,
            changes,
        });
        // What every other node will check: the proofs of possession, the size.
        Amendment::from_bytes(&amendment.bytes).map_err(CharterChainError::Unreadable)?;
        let approval = Approval::sign(key, &amendment.body.network, member.clone(), amendment.id, now);
        replica.put_amendment(&amendment)?;
        replica.put_approval(&approval)?;
        let (id, items) = (amendment.id, vec![amendment.bytes.clone(), approval.bytes.clone()]);
        self.add_amendment(amendment);
        self.add_approval(approval);
        self.versions = self.chain.versions();
        Ok((id, items))
    }

    /// The proposal a full id or unique prefix names.
    pub fn resolve(&self, prefix: &str) -> Result<RecordId, CharterChainError> {
        let prefix_lower = prefix.to_ascii_lowercase();
        let matches: Vec<&RecordId> =
            self.amendments.keys().filter(|id| id.to_string().starts_with(&prefix_lower)).collect();
        match matches.as_slice() {
            [id] if !prefix.is_empty() => Ok(**id),
            [] | [_] => Err(CharterChainError::UnknownProposal(prefix.to_owned())),
            many => Err(CharterChainError::AmbiguousProposal { prefix: prefix.to_owned(), count: many.len() }),
        }
    }

    /// `rix charter approve`: adds this member's approval to a proposal of the current
    /// version. Approving twice changes nothing (and stores nothing: the bytes returned are
    /// empty).
    pub fn approve(
        &mut self,
        replica: &Replica,
        member: &MemberCode,
        key: &MemberKey,
        prefix: &str,
        now: Timestamp,
    ) -> Result<(RecordId, Vec<Vec<u8>>), crate::NodeError> {
        let id = self.resolve(prefix)?;
        let view = self.proposal(&id).expect("resolved above");
        if view.applied.is_some() {
            return Ok((id, vec![]));
        }
        let head = self.head_version();
        if let Some(why) = &view.stale {
            let why: &'static str = if why.starts_with("its changes") {
                "its changes do not apply to it"
            } else {
                "another amendment of that version applied"
            };
            return Err(
                CharterChainError::NotCurrent { id, amends: view.amends_version, current: head.number, why }.into()
            );
        }
        if self.amendments[&id].body.amends != head.id {
            let why = "it is not an amendment of the current version";
            return Err(
                CharterChainError::NotCurrent { id, amends: view.amends_version, current: head.number, why }.into()
            );
        }
        self.check_approver(member, key)?;
        if view.approvals.contains(member) {
            return Ok((id, vec![]));
        }
        let approval = Approval::sign(key, &head.state.0.charter.network, member.clone(), id, now);
        replica.put_approval(&approval)?;
        let items = vec![approval.bytes.clone()];
        self.add_approval(approval);
        self.versions = self.chain.versions();
        Ok((id, items))
    }
}

/// Where a rotated-out `key` of `code` stops counting: the lowest sequence number of `code`'s
/// records held that a later key signed (record-format.md §10.5). None while there is none.
pub fn rotation_bound(
    replica: &Replica,
    charter: &Charter,
    code: &MemberCode,
    key: &AuthorKey,
) -> Result<Option<u64>, rix_store::StoreError> {
    let mut bound: Option<u64> = None;
    for later in charter.keys_after(code, key) {
        if let Some(first) = replica.first_seq_signed_by(code, &later)? {
            bound = Some(bound.map_or(first, |b| b.min(first)));
        }
    }
    Ok(bound)
}

/// The rotation rule for one verified record: a record signed by a rotated-out key at or after
/// the first record its member signed with a later key is refused.
pub fn check_rotation(
    replica: &Replica,
    charter: &Charter,
    record: &rix_record::Record,
) -> Result<Result<(), rix_record::VerifyError>, rix_store::StoreError> {
    let rotated =
        charter.retirement(&record.author, &record.author_key).is_some_and(|r| matches!(r.why, Retirement::Rotated));
    if !rotated {
        return Ok(Ok(()));
    }
    Ok(match rotation_bound(replica, charter, &record.author, &record.author_key)? {
        Some(bound) if record.seq >= bound => Err(rix_record::VerifyError::KeyRetired {
            member: record.author.clone(),
            seq: record.seq,
            after_seq: bound - 1,
        }),
        _ => Ok(()),
    })
}

/// Takes out of `replica` every held record that `charter` refuses because a retired key
/// signed it after its cut-off (a revocation, or its member's removal) or at or after its
/// member's first record by a later key (a rotation), keeping each as evidence with the
/// reason: records a node took in before the version, or the record, that ended their key.
/// Only the records after each cut-off are read. Returns the ids taken out.
pub fn rejudge(replica: &Replica, charter: &Charter) -> Result<Vec<RecordId>, rix_store::StoreError> {
    rejudge_keys(replica, charter, true)
}

/// [`rejudge`] for revocations and removals only: what a version applied by another process
/// may have changed. A rotation's bound moves only when a record is stored, which re-judges
/// it then ([`crate::ops::verify_and_store`]); skipping it keeps opening a replica cheap,
/// since it reads a rotated member's records after the bound.
pub fn rejudge_cutoffs(replica: &Replica, charter: &Charter) -> Result<Vec<RecordId>, rix_store::StoreError> {
    rejudge_keys(replica, charter, false)
}

fn rejudge_keys(replica: &Replica, charter: &Charter, rotations: bool) -> Result<Vec<RecordId>, rix_store::StoreError> {
    const PAGE: usize = 512;
    let mut refused = Vec::new();
    for retired in &charter.retired {
        let from = match &retired.why {
            Retirement::Revoked(cutoff) | Retirement::Removed(cutoff) => cutoff.after_seq.max(1),
            Retirement::Rotated if !rotations => continue,
            Retirement::Rotated => match rotation_bound(replica, charter, &retired.code, &retired.public_key)? {
                Some(bound) => bound,
                None => continue,
            },
        };
        let mut from = from;
        loop {
            let page = replica.range(&retired.code, from, u64::MAX, PAGE)?;
            for record in &page {
                if record.record().author_key != retired.public_key {
                    continue;
                }
                let verdict = match record.signed().verify(charter) {
                    Ok(_) => check_rotation(replica, charter, record.record())?,
                    Err(e) => Err(e),
                };
                if let Err(e @ rix_record::VerifyError::KeyRetired { .. }) = verdict {
                    refused.push((record.id(), format!("{}: {e}", e.reason())));
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.record().seq + 1,
                _ => break,
            }
        }
    }
    let taken = replica.retire_records(&refused)?;
    for (id, reason) in refused.iter().filter(|(id, _)| taken.contains(id)) {
        tracing::warn!(%id, %reason, "a record held is no longer valid under the charter; kept as evidence");
    }
    Ok(taken)
}

#[cfg(test)]
mod tests;
