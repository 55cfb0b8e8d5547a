//! The simulated network's mechanics: applying scheduled actions, connections, crashes,
//! gossip delivery with a seen cache, sync request and answer delivery, and carrying out an
//! honest node's engine outputs against its in-memory store.

use super::*;

impl World {
    pub(super) fn apply(&mut self, action: Action) {
        match action {
            Action::Engine { node, incarnation, event } => {
                let n = &mut self.nodes[node as usize];
                if n.incarnation != incarnation {
                    return;
                }
                if n.engine.is_none() {
                    return;
                }
                self.observe(node, incarnation, &event);
                let engine = self.nodes[node as usize].engine.as_mut().expect("checked");
                let out = engine.handle(event, self.now);
                self.trace(u64::from(node) << 32 | out.len() as u64);
                self.outputs(node, out);
            }
            Action::HostileRequest { hostile, from, request, reply } => {
                self.hostile_answer(hostile, from, request, reply)
            }
            Action::RequestTimeout { reply, peer } => {
                let n = &mut self.nodes[reply.requester as usize];
                if n.incarnation == reply.requester_incarnation && n.awaiting.remove(&reply.request) {
                    let failed = Reply::Failed { reason: "timed out".into() };
                    self.send_engine(
                        reply.requester,
                        Duration::ZERO,
                        Event::Reply { peer, tag: reply.tag, reply: failed },
                    );
                }
            }
            Action::Connect { from, to } => self.connect(from, to),
            Action::Publish(n) => self.publish(n),
            Action::Crash(n) => self.crash(n),
            Action::Restart(n) => {
                if self.nodes[n as usize].engine.is_none() {
                    self.boot(n);
                }
            }
            Action::Partition => {
                let all = (self.cfg.nodes + self.cfg.hostile) as u64;
                let cut: BTreeSet<Peer> = (0..all as Peer).filter(|_| self.rng.chance(0.4)).collect::<BTreeSet<_>>();
                let cross: Vec<(Peer, Peer)> =
                    self.links.iter().copied().filter(|(a, b)| cut.contains(a) != cut.contains(b)).collect();
                self.cut = Some(cut);
                for (a, b) in cross {
                    self.disconnect(a, b);
                }
            }
            Action::Heal => self.cut = None,
            Action::Attack(h) => self.attack(h),
        }
    }

    pub(super) fn connect(&mut self, from: Peer, to: Peer) {
        let refused =
            |w: &World, at: Peer, other: Peer| w.nodes[at as usize].refused.get(&other).is_some_and(|u| *u > w.now);
        if from == to
            || !self.up(from)
            || !self.up(to)
            || !self.reachable(from, to)
            || self.linked(from, to)
            || refused(self, from, to)
            || refused(self, to, from)
        {
            return;
        }
        self.links.insert((from.min(to), from.max(to)));
        let d = self.delay();
        self.send_engine(from, d, Event::PeerConnected(to));
        self.send_engine(to, d, Event::PeerConnected(from));
    }

    pub(super) fn disconnect(&mut self, a: Peer, b: Peer) {
        if self.links.remove(&(a.min(b), a.max(b))) {
            self.send_engine(a, Duration::ZERO, Event::PeerDisconnected(b));
            self.send_engine(b, Duration::ZERO, Event::PeerDisconnected(a));
        }
    }

    pub(super) fn crash(&mut self, n: Peer) {
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        if node.engine.take().is_none() {
            return;
        }
        node.incarnation += 1;
        // What was not yet flushed is lost.
        node.store.retain(|_, (_, durable)| *durable <= now);
        let links: Vec<(Peer, Peer)> = self.links.iter().copied().filter(|(a, b)| *a == n || *b == n).collect();
        for (a, b) in links {
            self.disconnect(a, b);
        }
    }

    /// Sends a gossip message from `from` to `to` over the lossy network.
    pub(super) fn gossip(&mut self, from: Peer, to: Peer, record: SimRecord) {
        if !self.linked(from, to) || self.rng.chance(self.cfg.loss) {
            return;
        }
        let copies = if self.rng.chance(self.cfg.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let d = self.delay();
            self.deliver_gossip(from, to, record, d);
        }
    }

    pub(super) fn deliver_gossip(&mut self, from: Peer, to: Peer, record: SimRecord, delay: Duration) {
        if !self.honest(to) {
            return;
        }
        // The seen cache is checked on arrival; scheduling through the engine queue keeps the
        // order of arrival.
        let now = self.now + delay;
        let node = &mut self.nodes[to as usize];
        let id = record.id();
        if node.seen.get(&id).is_some_and(|at| now.since(*at) < SEEN_TTL) {
            return;
        }
        node.seen.insert(id, now);
        self.send_engine(to, delay, Event::Gossip { from, message: record, record });
    }

    pub(super) fn publish(&mut self, n: Peer) {
        if self.nodes[n as usize].engine.is_none() {
            // Down: the member publishes later.
            let later = self.now + Duration::from_secs(2);
            self.at(later, Action::Publish(n));
            return;
        }
        let seq = self.nodes[n as usize].store.range((n, 0)..=(n, u64::MAX)).next_back().map_or(0, |(k, _)| k.1) + 1;
        self.next_body += 1;
        let record = SimRecord { author: n, seq, body: self.next_body, forged: false };
        self.published.insert(record);
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        node.store.insert((n, seq), (record, now));
        node.seen.insert(record.id(), now);
        self.trace(record.id());
        let peers: Vec<Peer> = self.peers_of(n);
        for p in peers {
            self.gossip(n, p, record);
        }
    }

    pub(super) fn peers_of(&self, n: Peer) -> Vec<Peer> {
        self.links
            .iter()
            .filter_map(|&(a, b)| {
                if a == n {
                    Some(b)
                } else if b == n {
                    Some(a)
                } else {
                    None
                }
            })
            .collect()
    }

    pub(super) fn heads(&self, n: Peer) -> Vec<LocalChain> {
        let mut chains: BTreeMap<Peer, Vec<u64>> = BTreeMap::new();
        for (author, seq) in self.nodes[n as usize].store.keys() {
            chains.entry(*author).or_default().push(*seq);
        }
        chains
            .into_iter()
            .map(|(author, seqs)| {
                let max_seq = *seqs.last().expect("non-empty");
                let mut missing = Vec::new();
                let mut expect = 1;
                for s in seqs {
                    if s > expect {
                        missing.push((expect, s - 1));
                    }
                    expect = s + 1;
                }
                LocalChain { author: code(author), max_seq, missing }
            })
            .collect()
    }

    pub(super) fn summary(&self, n: Peer) -> SyncResponse {
        let heads = self
            .heads(n)
            .into_iter()
            .map(|c| {
                let held = self.nodes[n as usize].store.keys().filter(|(a, _)| code(*a) == c.author).count() as u64;
                AuthorHead { contiguous: c.contiguous(), max_seq: c.max_seq, held, author: c.author }
            })
            .collect();
        SyncResponse::Summary { network: self.cfg.engine.network.clone(), heads, charter: None }
    }

    /// Sends a sync answer back to the requester over the lossy network.
    pub(super) fn answer(&mut self, responder: Peer, reply: ReplyTo, response: Reply<SimRecord>) {
        if !self.linked(responder, reply.requester) || self.rng.chance(self.cfg.loss) {
            return; // the requester times out
        }
        let requester = &mut self.nodes[reply.requester as usize];
        if requester.incarnation != reply.requester_incarnation || !requester.awaiting.remove(&reply.request) {
            return;
        }
        let d = self.delay();
        self.send_engine(reply.requester, d, Event::Reply { peer: responder, tag: reply.tag, reply: response });
    }

    pub(super) fn outputs(&mut self, n: Peer, out: Vec<Output<Sim>>) {
        for o in out {
            self.output(n, o);
        }
    }

    pub(super) fn output(&mut self, n: Peer, o: Output<Sim>) {
        match o {
            Output::Request { peer, tag, request } => {
                self.next_request += 1;
                let reply = ReplyTo {
                    requester: n,
                    requester_incarnation: self.nodes[n as usize].incarnation,
                    tag,
                    request: self.next_request,
                };
                self.nodes[n as usize].awaiting.insert(reply.request);
                self.at(self.now + REQUEST_TIMEOUT, Action::RequestTimeout { reply, peer });
                if !self.linked(n, peer) || self.rng.chance(self.cfg.loss) {
                    return;
                }
                let d = self.delay();
                if self.honest(peer) {
                    self.send_engine(peer, d, Event::SyncRequest { from: n, request, reply });
                } else {
                    self.at(self.now + d, Action::HostileRequest { hostile: peer, from: n, request, reply });
                }
            }
            Output::IngestCharter { batch, items, .. } => {
                let outcome = Ok(crate::CharterOutcome { invalid: items.len() as u32, ..Default::default() });
                self.send_engine(n, Duration::from_millis(1), Event::CharterIngested { batch, outcome });
            }
            Output::ReadHeads { peer, tag } => {
                let chains = self.heads(n);
                self.send_engine(n, Duration::from_millis(1), Event::LocalHeads { peer, tag, chains });
            }
            Output::Serve { peer, reply, serve } => {
                let response = match serve {
                    Serve::Summary => match self.summary(n) {
                        SyncResponse::Summary { network, heads, charter } => Reply::Summary { network, heads, charter },
                        _ => unreachable!("a summary"),
                    },
                    Serve::Fetch(f) => {
                        let held: Vec<SimRecord> = match author_of(&f.author) {
                            Some(a) => self.nodes[n as usize]
                                .store
                                .range((a, f.from)..=(a, f.to))
                                .take(f.limit + 1)
                                .map(|(_, (r, _))| *r)
                                .collect(),
                            None => Vec::new(),
                        };
                        let p = page(held.iter().map(SimRecord::size), f.limit, self.cfg.response_budget);
                        let records: Vec<SimRecord> = held[..p.take].to_vec();
                        let next = records.last().map(|r| r.seq + 1);
                        Reply::Records { records, next, more: p.more }
                    }
                    // The simulated nodes hold no charter chain (its rule has its own
                    // simulator, `membership::sim`).
                    Serve::Charter { .. } => Reply::Charter { items: Vec::new(), last: None, more: false },
                };
                self.answer(n, reply, response);
                self.send_engine(n, Duration::from_millis(1), Event::Served(peer));
            }
            Output::Respond { peer, reply, response } => {
                let response = match response {
                    SyncResponse::Busy { retry_after_ms } => Reply::Busy { retry_after_ms },
                    SyncResponse::Error { message } => Reply::Error { message },
                    _ => Reply::Error { message: "unexpected".into() },
                };
                self.answer(n, reply, response);
                self.send_engine(n, Duration::from_millis(1), Event::Served(peer));
            }
            Output::Ingest { batch, from, records, .. } => {
                self.batches.insert((n, batch), (from, records.clone()));
                self.ingest(n, batch, records);
            }
            Output::Validate { message, from, acceptance } => {
                self.trace(message.id() ^ acceptance as u64);
                if acceptance == Acceptance::Accept {
                    for p in self.peers_of(n) {
                        if p != from {
                            self.gossip(n, p, message);
                        }
                    }
                }
            }
            Output::Ban { peer, until } => {
                self.report.bans.insert((n, peer));
                self.nodes[n as usize].refused.insert(peer, until);
                self.disconnect(n, peer);
            }
            Output::Unban(peer) => {
                self.nodes[n as usize].refused.remove(&peer);
            }
            Output::Dial(peer) => {
                let d = self.delay();
                self.at(self.now + d, Action::Connect { from: n, to: peer });
            }
            Output::SetTimer { at, timer } => {
                let incarnation = self.nodes[n as usize].incarnation;
                self.at(at, Action::Engine { node: n, incarnation, event: Event::Timer(timer) });
            }
            Output::SyncDone { result, .. } => {
                if result.is_ok() {
                    self.report.rounds.0 += 1;
                } else {
                    self.report.rounds.1 += 1;
                }
            }
            Output::Penalised { .. }
            | Output::ServeRefused { .. }
            | Output::GossipDropped { .. }
            | Output::Lag { .. } => {}
        }
    }

    pub(super) fn ingest(&mut self, n: Peer, batch: BatchId, records: Vec<SimRecord>) {
        let d = Duration::from_millis(self.rng.range(1, 5));
        if self.rng.chance(self.cfg.store_failure) {
            self.send_engine(n, d, Event::Ingested { batch, outcomes: Err(StoreFailed) });
            return;
        }
        let durable = self.now + FLUSH_DELAY;
        let node = &mut self.nodes[n as usize];
        let outcomes = records
            .iter()
            .map(|r| {
                if r.forged || (r.author as usize) >= self.cfg.nodes {
                    return Outcome::Invalid;
                }
                match node.store.get(&(r.author, r.seq)) {
                    Some((held, _)) if held == r => Outcome::Duplicate,
                    Some(_) => {
                        node.evidence.insert(*r);
                        Outcome::Equivocation
                    }
                    None => {
                        node.store.insert((r.author, r.seq), (*r, durable));
                        Outcome::New
                    }
                }
            })
            .collect();
        self.send_engine(n, d, Event::Ingested { batch, outcomes: Ok(outcomes) });
    }
}
