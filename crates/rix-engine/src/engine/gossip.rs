//! Gossip: arrivals queue while a batch is stored, so a burst costs one verification batch
//! and one flush; each record's verdict goes back to gossipsub, a valid one after the forward
//! hold; a banned sender's queued messages are dropped unread and counted.

use super::{BatchId, Engine, Output, StoreFailed, Tag, Timer, Types};
use crate::Time;
use crate::verdict::{Acceptance, Outcome, Source, store_failed, verdict};

#[derive(Debug)]
pub(super) struct Arrival<T: Types> {
    pub(super) from: T::Peer,
    pub(super) message: T::Message,
    pub(super) record: T::Record,
    pub(super) arrived: Time,
}

#[derive(Debug)]
pub(super) enum InFlight<T: Types> {
    Gossip(Vec<(T::Peer, T::Message, Time)>),
    Sync {
        peer: T::Peer,
        tag: Tag,
    },
    /// A page of a peer's charter items; `next` is where the next page starts, if any.
    CharterSync {
        peer: T::Peer,
        tag: Tag,
        next: Option<String>,
    },
    CharterGossip {
        from: T::Peer,
        message: T::Message,
    },
}

impl<T: Types> Engine<T> {
    pub(super) fn on_gossip(&mut self, from: T::Peer, message: T::Message, record: T::Record, now: Time) {
        if self.scores.is_banned(&from, now) {
            self.drop_gossip(from, message);
            return;
        }
        self.gossip.push_back(Arrival { from, message, record, arrived: now });
        self.dispatch_gossip(now);
    }

    /// Hands what queued to the replica as one batch, unless a batch is being stored: a burst
    /// then costs one verification batch and one flush instead of one per record, while a lone
    /// record goes at once.
    pub(super) fn dispatch_gossip(&mut self, now: Time) {
        if self.gossip_batch.is_some() {
            return;
        }
        let mut records = Vec::new();
        let mut senders = Vec::new();
        while records.len() < self.config.gossip_batch.max(1) {
            let Some(a) = self.gossip.pop_front() else { break };
            // What a banned peer still had queued is dropped unread: a flood must not keep
            // the node busy after its sender is gone.
            if self.scores.is_banned(&a.from, now) {
                self.drop_gossip(a.from, a.message);
                continue;
            }
            records.push(a.record);
            senders.push((a.from, a.message, a.arrived));
        }
        if records.is_empty() {
            return;
        }
        let batch = self.new_batch();
        self.gossip_batch = Some(batch);
        self.batches.insert(batch, InFlight::Gossip(senders));
        self.out.push(Output::Ingest { batch, source: Source::Gossip, from: None, records });
    }

    /// A charter item by gossip: checked and stored at once (they are rare), judged like a
    /// record.
    pub(super) fn on_charter_gossip(&mut self, from: T::Peer, message: T::Message, item: Vec<u8>, now: Time) {
        if self.scores.is_banned(&from, now) {
            self.drop_gossip(from, message);
            return;
        }
        let batch = self.new_batch();
        self.batches.insert(batch, InFlight::CharterGossip { from: from.clone(), message });
        self.out.push(Output::IngestCharter { batch, source: Source::Gossip, from, items: vec![item] });
    }

    pub(super) fn on_charter_ingested(
        &mut self,
        batch: BatchId,
        outcome: Result<super::CharterOutcome, StoreFailed>,
        now: Time,
    ) {
        match self.batches.remove(&batch) {
            Some(InFlight::CharterSync { peer, tag, next }) => self.charter_page_stored(peer, tag, next, outcome, now),
            Some(InFlight::CharterGossip { from, message }) => {
                let acceptance = match outcome {
                    Err(StoreFailed) => store_failed().acceptance,
                    Ok(o) if o.invalid > 0 => {
                        self.penalise(&from, crate::scoring::Offence::InvalidGossip, now);
                        Acceptance::Reject
                    }
                    Ok(o) if o.new > 0 => Acceptance::Accept,
                    // Held already (gossipsub had not seen it: a replay), or an approval this
                    // node cannot judge yet: not forwarded, and a trickle of them costs
                    // little while a flood bans, as for records.
                    Ok(_) => {
                        self.penalise(&from, crate::scoring::Offence::Replay, now);
                        Acceptance::Ignore
                    }
                };
                self.out.push(Output::Validate { message, from, acceptance });
            }
            _ => {}
        }
    }

    pub(super) fn drop_gossip(&mut self, from: T::Peer, message: T::Message) {
        self.out.push(Output::GossipDropped { from: from.clone() });
        self.out.push(Output::Validate { message, from, acceptance: Acceptance::Ignore });
    }

    pub(super) fn new_batch(&mut self) -> BatchId {
        self.next_batch += 1;
        BatchId(self.next_batch)
    }

    pub(super) fn on_ingested(&mut self, batch: BatchId, outcomes: Result<Vec<Outcome>, StoreFailed>, now: Time) {
        match self.batches.remove(&batch) {
            Some(InFlight::Gossip(senders)) => {
                self.gossip_batch = None;
                self.judge_gossip(senders, outcomes, now);
                self.dispatch_gossip(now);
            }
            Some(InFlight::Sync { peer, tag }) => self.judge_sync(peer, tag, batch, outcomes, now),
            Some(other) => {
                self.batches.insert(batch, other);
            }
            None => {}
        }
    }

    pub(super) fn judge_gossip(
        &mut self,
        senders: Vec<(T::Peer, T::Message, Time)>,
        outcomes: Result<Vec<Outcome>, StoreFailed>,
        now: Time,
    ) {
        let outcomes = match outcomes {
            Ok(o) if o.len() == senders.len() => o,
            _ => {
                let acceptance = store_failed().acceptance;
                for (from, message, _) in senders {
                    self.out.push(Output::Validate { message, from, acceptance });
                }
                return;
            }
        };
        let mut held = false;
        let settled = self.charter_settled();
        for ((from, message, arrived), outcome) in senders.into_iter().zip(outcomes) {
            let outcome = if outcome == Outcome::Unjudged && settled { Outcome::Invalid } else { outcome };
            let v = verdict(Source::Gossip, outcome);
            if let Some(offence) = v.offence {
                self.penalise(&from, offence, now);
            }
            if v.acceptance == Acceptance::Accept {
                match self.hold.push((message, from), arrived, now) {
                    Some((message, from)) => {
                        self.out.push(Output::Validate { message, from, acceptance: v.acceptance })
                    }
                    None => held = true,
                }
            } else {
                self.out.push(Output::Validate { message, from, acceptance: v.acceptance });
            }
        }
        if held && let Some(at) = self.hold.next_release() {
            self.out.push(Output::SetTimer { at, timer: Timer::Hold });
        }
    }

    pub(super) fn release_held(&mut self, now: Time) {
        for (message, from) in self.hold.release(now) {
            self.out.push(Output::Validate { message, from, acceptance: Acceptance::Accept });
        }
        if let Some(at) = self.hold.next_release() {
            self.out.push(Output::SetTimer { at, timer: Timer::Hold });
        }
    }
}
