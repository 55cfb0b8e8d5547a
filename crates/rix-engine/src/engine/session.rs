//! One sync session per peer: summary, plan, paged fetch with `more`, busy retries within
//! patience, and a two-batch pipeline (one stored while the next is fetched).

use std::collections::VecDeque;
use std::time::Duration;

use super::{BatchId, Engine, InFlight, Output, StoreFailed, Tag, Timer, Types};
use crate::Time;
use crate::scoring::Offence;
use crate::sync::{FetchRange, LocalChain, Reply, SyncFailure, plan};
use crate::verdict::{Outcome, Source};
use crate::wire::{AuthorHead, SyncRequest};

#[derive(Debug)]
pub(super) enum Phase {
    AwaitSummary,
    /// The peer's charter chain differs: a page of its items is asked for (the record plan
    /// waits, so that records by members the chain admits are judged under it).
    AwaitCharter(Vec<AuthorHead>),
    /// A page of charter items is being checked and stored.
    StoringCharter(Vec<AuthorHead>),
    AwaitLocal(Vec<AuthorHead>),
    Fetching,
    /// Every range fetched; waiting for the last batch to be stored.
    Draining,
}

#[derive(Debug)]
pub(super) struct Session<R> {
    tag: Tag,
    phase: Phase,
    ranges: VecDeque<FetchRange>,
    /// The range being fetched, from its next sequence number.
    current: Option<FetchRange>,
    /// The request awaiting an answer (resent after `busy`).
    pending: Option<SyncRequest>,
    busy_since: Option<Time>,
    /// The batch being stored.
    storing: Option<BatchId>,
    /// A batch received while the previous one was still being stored.
    parked: Option<Vec<R>>,
    fetched: u64,
}

impl<T: Types> Engine<T> {
    pub(super) fn start_session(&mut self, peer: T::Peer, now: Time) {
        if self.sessions.contains_key(&peer) || !self.connected.contains_key(&peer) || self.scores.is_banned(&peer, now)
        {
            return;
        }
        self.next_tag += 1;
        let tag = Tag(self.next_tag);
        let session = Session {
            tag,
            phase: Phase::AwaitSummary,
            ranges: VecDeque::new(),
            current: None,
            pending: Some(SyncRequest::Summary),
            busy_since: None,
            storing: None,
            parked: None,
            fetched: 0,
        };
        self.sessions.insert(peer.clone(), session);
        self.out.push(Output::Request { peer, tag, request: SyncRequest::Summary });
    }

    /// Resends the request a busy peer refused, if its session is still the one asking.
    pub(super) fn retry(&mut self, peer: T::Peer, tag: Tag) {
        let Some(s) = self.sessions.get(&peer).filter(|s| s.tag == tag) else { return };
        if let Some(request) = s.pending.clone() {
            self.out.push(Output::Request { peer, tag, request });
        }
    }

    pub(super) fn fail_session(&mut self, peer: &T::Peer, failure: SyncFailure) {
        if self.sessions.remove(peer).is_some() {
            self.out.push(Output::SyncDone { peer: peer.clone(), result: Err(failure) });
        }
    }

    pub(super) fn finish_session(&mut self, peer: &T::Peer, now: Time) {
        if let Some(s) = self.sessions.remove(peer) {
            if let Some(p) = self.connected.get_mut(peer) {
                p.last_sync = Some(now);
                p.records_fetched += s.fetched;
            }
            self.out.push(Output::SyncDone { peer: peer.clone(), result: Ok(s.fetched) });
        }
    }

    pub(super) fn on_reply(&mut self, peer: T::Peer, tag: Tag, reply: Reply<T::Record>, now: Time) {
        let patience = self.config.patience;
        let network = self.config.network.clone();
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag) else { return };
        if let Reply::Busy { retry_after_ms } = reply {
            let since = *s.busy_since.get_or_insert(now);
            if now.since(since) >= patience {
                return self.fail_session(&peer, SyncFailure::StayedBusy);
            }
            let at = now + Duration::from_millis(retry_after_ms.clamp(10, 5_000));
            self.out.push(Output::SetTimer { at, timer: Timer::Retry { peer, tag } });
            return;
        }
        s.busy_since = None;
        s.pending = None;
        if let Reply::Summary { charter: Some(theirs), .. } = &reply {
            self.peer_charters.insert(peer.clone(), theirs.digest.clone());
        }
        let Some(s) = self.sessions.get_mut(&peer) else { return };
        match (reply, &s.phase) {
            (Reply::Failed { reason }, _) => self.fail_session(&peer, SyncFailure::Transport(reason)),
            (Reply::Error { message }, _) => self.fail_session(&peer, SyncFailure::Refused(message)),
            (Reply::Summary { network: theirs, .. }, Phase::AwaitSummary) if theirs != network => {
                self.fail_session(&peer, SyncFailure::WrongNetwork(theirs))
            }
            (Reply::Summary { charter: Some(theirs), .. }, Phase::AwaitSummary)
                if self.charter.as_ref().is_some_and(|ours| ours.genesis != theirs.genesis) =>
            {
                self.fail_session(&peer, SyncFailure::WrongGenesis(theirs.genesis))
            }
            (Reply::Summary { heads, charter: Some(theirs), .. }, Phase::AwaitSummary)
                if theirs.items > 0 && self.charter.as_ref().is_some_and(|ours| ours.digest != theirs.digest) =>
            {
                s.phase = Phase::AwaitCharter(heads);
                let request = SyncRequest::Charter { after: None };
                s.pending = Some(request.clone());
                self.out.push(Output::Request { peer, tag, request });
            }
            (Reply::Summary { heads, .. }, Phase::AwaitSummary) => {
                s.phase = Phase::AwaitLocal(heads);
                self.out.push(Output::ReadHeads { peer, tag });
            }
            (Reply::Charter { items, last, more }, Phase::AwaitCharter(_)) => {
                let Phase::AwaitCharter(heads) = std::mem::replace(&mut s.phase, Phase::AwaitSummary) else {
                    unreachable!("matched above")
                };
                if items.is_empty() {
                    s.phase = Phase::AwaitLocal(heads);
                    self.out.push(Output::ReadHeads { peer, tag });
                    return;
                }
                s.phase = Phase::StoringCharter(heads);
                let batch = self.new_batch();
                let next = if more { last } else { None };
                self.batches.insert(batch, InFlight::CharterSync { peer: peer.clone(), tag, next });
                self.out.push(Output::IngestCharter { batch, source: Source::Sync, from: peer, items });
            }
            (Reply::Records { records, next, more }, Phase::Fetching) => {
                self.on_records(peer, tag, records, next, more, now);
            }
            _ => self.fail_session(&peer, SyncFailure::Unexpected),
        }
    }

    /// A page of the peer's charter items is stored: ask for the next, or go on to records.
    pub(super) fn charter_page_stored(
        &mut self,
        peer: T::Peer,
        tag: Tag,
        next: Option<String>,
        outcome: Result<crate::engine::CharterOutcome, StoreFailed>,
        now: Time,
    ) {
        let invalid = outcome.as_ref().map_or(0, |o| o.invalid);
        if invalid > 0 {
            self.penalise(&peer, Offence::InvalidSync, now);
        }
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag) else { return };
        if outcome.is_err() {
            return self.fail_session(&peer, SyncFailure::StoreFailed);
        }
        if invalid > 0 {
            return self.fail_session(&peer, SyncFailure::ServedInvalid(invalid as usize));
        }
        let Phase::StoringCharter(heads) = std::mem::replace(&mut s.phase, Phase::AwaitSummary) else {
            return self.fail_session(&peer, SyncFailure::Unexpected);
        };
        match next {
            Some(after) => {
                s.phase = Phase::AwaitCharter(heads);
                let request = SyncRequest::Charter { after: Some(after) };
                s.pending = Some(request.clone());
                self.out.push(Output::Request { peer, tag, request });
            }
            None => {
                s.phase = Phase::AwaitLocal(heads);
                self.out.push(Output::ReadHeads { peer, tag });
            }
        }
    }

    pub(super) fn on_local_heads(&mut self, peer: T::Peer, tag: Tag, chains: &[LocalChain], now: Time) {
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag) else { return };
        let Phase::AwaitLocal(heads) = std::mem::replace(&mut s.phase, Phase::Fetching) else {
            return self.fail_session(&peer, SyncFailure::Unexpected);
        };
        let members = &self.config.members;
        for h in heads.iter().filter(|h| members.contains(&h.author)) {
            let max = self.remote_max.entry(h.author.clone()).or_default();
            *max = (*max).max(h.max_seq);
        }
        for c in chains {
            let lag = self.remote_max.get(&c.author).copied().unwrap_or(0).saturating_sub(c.contiguous());
            self.out.push(Output::Lag { author: c.author.clone(), lag });
        }
        let ranges = plan(chains, &heads, |a| members.contains(a));
        let s = self.sessions.get_mut(&peer).expect("checked");
        s.ranges = ranges.into();
        self.fetch_next(peer, now);
    }

    /// Asks for the next page of the current range, or the next range; with nothing left,
    /// finishes once the last batch is stored.
    pub(super) fn fetch_next(&mut self, peer: T::Peer, now: Time) {
        let batch = self.config.batch_records.max(1);
        let Some(s) = self.sessions.get_mut(&peer) else { return };
        if s.current.as_ref().is_none_or(|r| r.from > r.to) {
            s.current = s.ranges.pop_front();
        }
        match &s.current {
            Some(r) => {
                let request = SyncRequest::Fetch { author: r.author.clone(), from: r.from, to: r.to, limit: batch };
                s.pending = Some(request.clone());
                let tag = s.tag;
                self.out.push(Output::Request { peer, tag, request });
            }
            None if s.storing.is_none() => self.finish_session(&peer, now),
            None => s.phase = Phase::Draining,
        }
    }

    pub(super) fn on_records(
        &mut self,
        peer: T::Peer,
        tag: Tag,
        records: Vec<T::Record>,
        next: Option<u64>,
        more: bool,
        now: Time,
    ) {
        let Some(s) = self.sessions.get_mut(&peer) else { return };
        let range = s.current.as_mut().expect("fetching has a current range");
        // Go on within this range only if the peer says it has more and the page ended where
        // the next one can start; otherwise the range is done (what is still missing is asked
        // again next round, maybe of another peer).
        match next {
            Some(n) if more && !records.is_empty() && n > range.from => range.from = n,
            _ => range.from = range.to.saturating_add(1),
        }
        if records.is_empty() {
            return self.fetch_next(peer, now);
        }
        if s.storing.is_some() {
            s.parked = Some(records);
            return;
        }
        self.store_sync_batch(peer, tag, records, now);
    }

    pub(super) fn store_sync_batch(&mut self, peer: T::Peer, tag: Tag, records: Vec<T::Record>, now: Time) {
        let batch = self.new_batch();
        self.batches.insert(batch, InFlight::Sync { peer: peer.clone(), tag });
        self.out.push(Output::Ingest { batch, source: Source::Sync, from: Some(peer.clone()), records });
        if let Some(s) = self.sessions.get_mut(&peer) {
            s.storing = Some(batch);
        }
        // The pipeline: while this batch is stored, the next is fetched.
        self.fetch_next(peer, now);
    }

    pub(super) fn judge_sync(
        &mut self,
        peer: T::Peer,
        tag: Tag,
        batch: BatchId,
        outcomes: Result<Vec<Outcome>, StoreFailed>,
        now: Time,
    ) {
        let (new, invalid) = match &outcomes {
            Ok(o) => (
                o.iter().filter(|o| **o == Outcome::New).count() as u64,
                // A record a newer charter version could change the verdict on is the peer's
                // fault only if it holds the same chain as this node: it may be behind
                // (this node holds a revocation it has yet to fetch).
                o.iter()
                    .filter(|o| **o == Outcome::Invalid || (**o == Outcome::Unjudged && self.same_charter(&peer)))
                    .count(),
            ),
            Err(_) => (0, 0),
        };
        // The penalty stands even if the session already ended: the peer served it.
        if invalid > 0 {
            self.penalise(&peer, Offence::InvalidSync, now);
        }
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag && s.storing == Some(batch)) else {
            return;
        };
        s.storing = None;
        s.fetched += new;
        if outcomes.is_err() {
            return self.fail_session(&peer, SyncFailure::StoreFailed);
        }
        if invalid > 0 {
            return self.fail_session(&peer, SyncFailure::ServedInvalid(invalid));
        }
        if let Some(records) = s.parked.take() {
            return self.store_sync_batch(peer, tag, records, now);
        }
        if matches!(s.phase, Phase::Draining) {
            self.finish_session(&peer, now);
        }
    }
}
