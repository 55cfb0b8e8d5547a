//! Hostile peers: what each kind sends, how it answers sync, and which of their offences an
//! honest node saw (a seen attack that must ban is checked by the invariants).

use super::*;

impl World {
    pub(super) fn forged(&mut self, claimed_author: Peer, seq: u64) -> SimRecord {
        self.next_body += 1;
        SimRecord { author: claimed_author, seq, body: self.next_body, forged: true }
    }

    /// Notes the offences an event delivered to `node` carries, from what the event holds
    /// (not from what the engine makes of it), and which of them must end in a ban: two
    /// invalid gossip records within 95 s, one invalid record served by sync, or a sync flood
    /// of 160 requests within a second (at most the 100 of the burst are admitted, and every
    /// refusal costs 2 of the 100 points).
    pub(super) fn observe(&mut self, node: Peer, incarnation: u32, event: &Event<Sim>) {
        let note = |w: &mut World, hostile: Peer, kind: u8, window: Duration, count: usize| {
            let now = w.now;
            let times = w.offences.entry((node, incarnation, hostile, kind)).or_default();
            times.push(now);
            if times.iter().filter(|t| now.since(**t) <= window).count() >= count {
                w.must_ban.insert((node, hostile));
            }
        };
        match event {
            Event::Gossip { from, record, .. } => {
                self.senders.insert((node, *record), *from);
            }
            Event::SyncRequest { from, .. } if !self.honest(*from) => note(self, *from, 0, Duration::from_secs(1), 160),
            Event::Ingested { batch, outcomes: Ok(outcomes) } => {
                let Some((from, records)) = self.batches.remove(&(node, *batch)) else { return };
                for (r, o) in records.iter().zip(outcomes) {
                    if *o != Outcome::Invalid {
                        continue;
                    }
                    match from {
                        Some(peer) => note(self, peer, 1, Duration::ZERO, 1),
                        None => {
                            if let Some(peer) = self.senders.get(&(node, *r)).copied() {
                                note(self, peer, 2, Duration::from_secs(95), 2);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn attack(&mut self, h: Peer) {
        let targets = self.peers_of(h);
        if targets.is_empty() {
            // Banned everywhere or cut off: try to connect again.
            for to in 0..self.cfg.nodes as Peer {
                self.at(self.now + Duration::from_millis(10), Action::Connect { from: h, to });
            }
            return;
        }
        let target = targets[self.rng.range(0, targets.len() as u64 - 1) as usize];
        let victim = self.rng.range(0, self.cfg.nodes as u64 - 1) as Peer;
        match self.kind(h) {
            Hostility::ForgesGossip => {
                // Two forged records at once, claiming an honest author (and one its own):
                // attacks gossip delivers reliably, since an attacker can always resend.
                let seq = self.rng.range(1, 50);
                let a = self.forged(victim, seq);
                let b = self.forged(h, 1);
                self.deliver_gossip(h, target, a, Duration::from_millis(1));
                self.deliver_gossip(h, target, b, Duration::from_millis(2));
            }
            Hostility::FloodsSync => {
                // A flood of summary requests, far over the serve budget.
                for i in 0..300u64 {
                    self.next_request += 1;
                    let reply =
                        ReplyTo { requester: h, requester_incarnation: 0, tag: Tag(0), request: self.next_request };
                    let event = Event::SyncRequest { from: h, request: SyncRequest::Summary, reply };
                    self.send_engine(target, Duration::from_micros(i), event);
                }
            }
            Hostility::LiesInSync => {}
            Hostility::Replays => {
                // Replays of records the target has held for longer than the seen cache: a
                // nuisance that costs a point each, not a ban by itself.
                let old: Vec<SimRecord> = self.nodes[target as usize]
                    .store
                    .values()
                    .filter(|(_, at)| self.now.since(*at) > SEEN_TTL * 2)
                    .map(|(r, _)| *r)
                    .take(20)
                    .collect();
                for (i, r) in old.into_iter().enumerate() {
                    self.deliver_gossip(h, target, r, Duration::from_millis(i as u64 + 1));
                }
            }
        }
    }

    /// What hostile peer `h` does: one kind of attack each, so that every kind is exercised
    /// (a peer that lied in sync would be banned before it could attack otherwise).
    pub(super) fn kind(&self, h: Peer) -> Hostility {
        [Hostility::ForgesGossip, Hostility::FloodsSync, Hostility::LiesInSync, Hostility::Replays]
            [(h as usize + self.first_hostility) % 4]
    }

    /// A lying hostile peer answers a summary with heads it does not hold and a fetch with
    /// forged records: serving an invalid record by sync must ban it. The others answer that
    /// they hold nothing.
    pub(super) fn hostile_answer(&mut self, h: Peer, from: Peer, request: SyncRequest, reply: ReplyTo) {
        let lies = self.kind(h) == Hostility::LiesInSync;
        let response = match request {
            SyncRequest::Summary if !lies => {
                Reply::Summary { network: self.cfg.engine.network.clone(), heads: Vec::new(), charter: None }
            }
            SyncRequest::Fetch { .. } if !lies => Reply::Records { records: Vec::new(), next: None, more: false },
            SyncRequest::Charter { .. } => Reply::Charter { items: Vec::new(), last: None, more: false },
            SyncRequest::Summary => {
                let victim = self.rng.range(0, self.cfg.nodes as u64 - 1) as Peer;
                let held = self.nodes[from as usize].store.range((victim, 0)..=(victim, u64::MAX)).count() as u64;
                let heads =
                    vec![AuthorHead { author: code(victim), contiguous: held + 3, max_seq: held + 3, held: held + 3 }];
                Reply::Summary { network: self.cfg.engine.network.clone(), heads, charter: None }
            }
            SyncRequest::Fetch { author, from: first, .. } => {
                let Some(victim) = author_of(&author) else { return };
                let records: Vec<SimRecord> = (0..2).map(|i| self.forged(victim, first + i)).collect();
                let next = records.last().map(|r| r.seq + 1);
                Reply::Records { records, next, more: false }
            }
        };
        // Hostile answers travel reliably: what is tested is the judgement, not the loss.
        let requester = &mut self.nodes[reply.requester as usize];
        if requester.incarnation == reply.requester_incarnation && requester.awaiting.remove(&reply.request) {
            self.send_engine(
                reply.requester,
                Duration::from_millis(1),
                Event::Reply { peer: h, tag: reply.tag, reply: response },
            );
        }
    }
}
