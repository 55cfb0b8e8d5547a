//! The task that owns the swarm: it runs the network's commands and turns swarm events into
//! [`NetworkEvent`]s. It keeps only what libp2p needs (pending requests, the connection kept
//! per peer, the charter's addresses, who is refused); when to dial and whom to ban is decided
//! by the node's engine and arrives as commands.

use std::collections::{HashMap, HashSet, VecDeque};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::request_response::{self, InboundRequestId, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list};
use rix_engine::dial::connection_to_close;
use rix_record::{Charter, SignedRecord};
use tokio::sync::{mpsc, oneshot};

use crate::protocol::SyncResponse;
use crate::service::{Command, ConnectedPeer, GossipOutcome, InboundRequest, NetError, NetworkEvent};
use crate::swarm::{Behaviour, BehaviourEvent};

/// The task that owns the swarm. Run it with [`EventLoop::run`].
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    /// Events that must reach the node even when its queue is full (connections, answered
    /// requests, dialable peers): the engine's bookkeeping depends on each one. Gossip and
    /// requests are dropped instead, and come back by sync or a retry.
    backlog: VecDeque<NetworkEvent>,
    topic: IdentTopic,
    charter: Charter,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, NetError>>>,
    /// Inbound requests handed to the node and not yet answered.
    answering: HashMap<InboundRequestId, PeerId>,
    /// The charter's addresses of each peer that has some.
    addresses: HashMap<PeerId, Vec<Multiaddr>>,
    connected: HashMap<PeerId, PeerLink>,
    /// Refused until the node lifts the ban.
    banned: HashSet<PeerId>,
}

/// The connection kept to a connected peer.
struct PeerLink {
    address: Multiaddr,
    /// `None` once it closed while a second connection remained (rare: that one is kept).
    connection: Option<ConnectionId>,
    we_dialed: bool,
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetworkEvent>,
        topic: IdentTopic,
        charter: Charter,
        addresses: HashMap<PeerId, Vec<Multiaddr>>,
    ) -> Self {
        let backlog = addresses.keys().map(|&peer| NetworkEvent::Dialable { peer }).collect();
        Self {
            swarm,
            commands,
            events,
            backlog,
            topic,
            charter,
            pending: HashMap::new(),
            answering: HashMap::new(),
            addresses,
            connected: HashMap::new(),
            banned: HashSet::new(),
        }
    }

    /// Runs until [`crate::NetworkHandle::shutdown`] or until every handle is dropped.
    pub async fn run(mut self) {
        // A second sender, so that waiting for room does not borrow the loop's state.
        let events = self.events.clone();
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                permit = events.reserve(), if !self.backlog.is_empty() => match permit {
                    Ok(permit) => permit.send(self.backlog.pop_front().expect("not empty")),
                    Err(_) => self.backlog.clear(),
                },
            }
        }
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(NetError::Stopped));
        }
        tracing::debug!("network event loop stopped");
    }

    /// Queues an event the node must not miss; see [`EventLoop::backlog`].
    fn emit_reliably(&mut self, event: NetworkEvent) {
        self.backlog.push_back(event);
    }

    fn emit(&self, event: NetworkEvent) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("node is not keeping up with network events; dropping one");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// An inbound request the node was given is done with: tell it, once.
    fn answered(&mut self, id: InboundRequestId) {
        if let Some(peer) = self.answering.remove(&id) {
            self.emit_reliably(NetworkEvent::Answered { peer });
        }
    }

    fn role_of(&self, peer: &PeerId) -> String {
        let id = peer.to_string();
        match (self.charter.member_by_peer(&id), self.charter.observer(&id)) {
            (Some(m), _) => m.code.to_string(),
            (None, Some(o)) => format!("observer:{}", o.name),
            _ => "unknown".into(),
        }
    }

    fn publish(&mut self, data: Vec<u8>) -> GossipOutcome {
        match self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), data) {
            Ok(_) => GossipOutcome::Sent,
            Err(gossipsub::PublishError::Duplicate) => GossipOutcome::Duplicate,
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => GossipOutcome::NoPeers,
            Err(e) => {
                tracing::warn!(error = %e, "gossip publish failed; it will travel by sync");
                GossipOutcome::NoPeers
            }
        }
    }

    /// A new charter version: new member nodes and observers are admitted and dialled; peers
    /// it no longer lists are refused and disconnected.
    fn set_charter(&mut self, charter: Charter) {
        let peers = match crate::service::charter_peers(&charter) {
            Ok(peers) => peers,
            Err(e) => {
                tracing::error!(error = %e, "the new charter version has an address that does not parse; keeping the old peers");
                return;
            }
        };
        let local = *self.swarm.local_peer_id();
        let admitted: HashSet<PeerId> = peers.iter().map(|(p, _)| *p).filter(|p| *p != local).collect();
        let before: HashSet<PeerId> = crate::service::charter_peers(&self.charter)
            .map(|peers| peers.into_iter().map(|(p, _)| p).collect())
            .unwrap_or_default();
        for peer in before.difference(&admitted) {
            tracing::info!(%peer, role = self.role_of(peer), "the charter no longer lists this peer; disconnecting it");
            self.swarm.behaviour_mut().admission.disallow_peer(*peer);
            let _ = self.swarm.disconnect_peer_id(*peer);
            self.addresses.remove(peer);
        }
        self.charter = charter;
        for (peer, addrs) in peers.into_iter().filter(|(p, _)| *p != local) {
            if !self.banned.contains(&peer) {
                self.swarm.behaviour_mut().admission.allow_peer(peer);
            }
            let new_addresses = !addrs.is_empty() && self.addresses.get(&peer) != Some(&addrs);
            if new_addresses {
                self.addresses.insert(peer, addrs);
                self.emit_reliably(NetworkEvent::Dialable { peer });
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { record, reply } => {
                let _ = reply.send(self.publish(record.bytes().to_vec()));
            }
            Command::PublishCharter { item, reply } => {
                let _ = reply.send(self.publish(item));
            }
            Command::SetCharter { charter } => self.set_charter(*charter),
            Command::Validate { message_id, source, acceptance } => {
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(&message_id, &source, acceptance);
            }
            Command::Request { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel: InboundRequest { id, channel }, response } => {
                if self.swarm.behaviour_mut().sync.send_response(channel, response).is_err() {
                    tracing::debug!("sync response not sent: the requester went away");
                    self.answered(id);
                }
            }
            Command::Peers { reply } => {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let protocols: HashMap<&PeerId, String> =
                    gossipsub.peer_protocol().map(|(peer, kind)| (peer, kind.to_string())).collect();
                let topic = self.topic.hash();
                let mesh: HashSet<&PeerId> = gossipsub.mesh_peers(&topic).collect();
                let subscribed: HashSet<&PeerId> =
                    gossipsub.all_peers().filter(|(_, topics)| topics.contains(&&topic)).map(|(p, _)| p).collect();
                let peers = self
                    .connected
                    .iter()
                    .map(|(peer, link)| ConnectedPeer {
                        peer_id: *peer,
                        address: link.address.clone(),
                        role: self.role_of(peer),
                        score: gossipsub.peer_score(peer),
                        gossip_protocol: protocols.get(peer).cloned().unwrap_or_default(),
                        in_mesh: mesh.contains(peer),
                        subscribed: subscribed.contains(peer),
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Disconnect { peer } => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Ban { peer, duration } => {
                tracing::warn!(%peer, role = self.role_of(&peer), secs = duration.as_secs(), "banning a misbehaving peer");
                self.swarm.behaviour_mut().admission.disallow_peer(peer);
                let _ = self.swarm.disconnect_peer_id(peer);
                self.banned.insert(peer);
            }
            Command::Unban { peer } => {
                if self.banned.remove(&peer) && self.charter.admits_peer(&peer.to_string()) {
                    tracing::info!(%peer, "ban lifted; the peer is admitted again");
                    self.swarm.behaviour_mut().admission.allow_peer(peer);
                }
            }
            Command::Dial { peer } => {
                if self.connected.contains_key(&peer) || self.banned.contains(&peer) {
                    return;
                }
                let Some(addresses) = self.addresses.get(&peer) else { return };
                let opts = DialOpts::peer_id(peer)
                    .addresses(addresses.clone())
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::trace!(%peer, error = %e, "dial not started");
                }
            }
            Command::Shutdown => unreachable!("handled in run"),
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.emit(NetworkEvent::Listening { address });
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, num_established, .. }
                if num_established.get() > 1 =>
            {
                // Both sides dialled at once. One connection per peer: gossipsub shares a
                // peer's send queue between its connections, and with two, records sent
                // directly to some peers arrived only by relay (docs/performance.md).
                let local = *self.swarm.local_peer_id();
                let new = (connection_id, endpoint.is_dialer());
                // Without a known kept connection (rare), the newer one goes.
                let mut close = connection_id;
                if let Some(link) = self.connected.get_mut(&peer_id)
                    && let Some(existing) = link.connection
                {
                    close = connection_to_close(&local, &peer_id, (existing, link.we_dialed), new);
                    if close == existing {
                        link.address = endpoint.get_remote_address().clone();
                        (link.connection, link.we_dialed) = (Some(connection_id), new.1);
                    }
                }
                tracing::debug!(peer = %peer_id, ?close, "two connections to one peer; closing one");
                self.swarm.close_connection(close);
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                let address = endpoint.get_remote_address().clone();
                tracing::info!(peer = %peer_id, role = self.role_of(&peer_id), %address, "peer connected");
                let link = PeerLink { address, connection: Some(connection_id), we_dialed: endpoint.is_dialer() };
                self.connected.insert(peer_id, link);
                self.emit_reliably(NetworkEvent::PeerConnected { peer: peer_id });
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, num_established, .. } if num_established > 0 => {
                if let Some(link) = self.connected.get_mut(&peer_id)
                    && link.connection == Some(connection_id)
                {
                    link.connection = None;
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, .. } => {
                tracing::info!(peer = %peer_id, "peer disconnected");
                self.connected.remove(&peer_id);
                self.emit_reliably(NetworkEvent::PeerDisconnected { peer: peer_id });
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                let refused_by_charter = matches!(&error, libp2p::swarm::ListenError::Denied { cause }
                    if cause.downcast_ref::<allow_block_list::NotAllowed>().is_some());
                if refused_by_charter {
                    tracing::warn!(address = %send_back_addr, "refused a connection from a peer the charter does not admit");
                    self.emit(NetworkEvent::PeerRefused { address: send_back_addr.to_string() });
                } else {
                    tracing::debug!(address = %send_back_addr, %error, "incoming connection failed");
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                let (source, id) = (propagation_source, message_id.clone());
                // Records start with `RIX` 0x01, amendments with `RIXM`, approvals with `RIXV`.
                let event = if message.data.starts_with(b"RIXM") || message.data.starts_with(b"RIXV") {
                    NetworkEvent::GossipCharter { source, message_id: id, item: message.data }
                } else {
                    NetworkEvent::GossipRecord {
                        source,
                        message_id: id,
                        record: SignedRecord::from_bytes(message.data),
                    }
                };
                if !self.emit(event) {
                    self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        MessageAcceptance::Ignore,
                    );
                }
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::SlowPeer { peer_id, failed_messages }) => {
                tracing::debug!(peer = %peer_id, ?failed_messages, "gossipsub could not send some messages to a peer in time");
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::GossipsubNotSupported { peer_id }) => {
                tracing::warn!(peer = %peer_id, "peer does not speak gossipsub; it gets records only by sync");
            }
            BehaviourEvent::Gossipsub(event) => tracing::trace!(?event, "gossipsub"),
            BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request_id, request, channel } => {
                    // Admission only; what an admitted peer may ask (the serve budget) is the
                    // engine's to decide, and every request handed over is reported answered.
                    if !self.charter.admits_peer(&peer.to_string()) || self.banned.contains(&peer) {
                        let response = SyncResponse::Error { message: "not admitted".into() };
                        let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
                        return;
                    }
                    self.answering.insert(request_id, peer);
                    let channel = InboundRequest { id: request_id, channel };
                    if !self.emit(NetworkEvent::SyncRequest { peer, request, channel }) {
                        // Dropped unseen: the requester's stream fails, and the node, which
                        // never counted it, is not told.
                        self.answering.remove(&request_id);
                    }
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            BehaviourEvent::Sync(request_response::Event::OutboundFailure { peer, request_id, error, .. }) => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Request { peer, reason: error.to_string() }));
                }
            }
            BehaviourEvent::Sync(request_response::Event::InboundFailure { peer, request_id, error, .. }) => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
                self.answered(request_id);
            }
            BehaviourEvent::Sync(request_response::Event::ResponseSent { request_id, .. }) => self.answered(request_id),
            #[cfg(feature = "mdns")]
            BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    // mDNS only suggests addresses; admission still applies.
                    if self.charter.admits_peer(&peer.to_string()) {
                        let opts = DialOpts::peer_id(peer)
                            .addresses(vec![address])
                            .condition(PeerCondition::DisconnectedAndNotDialing)
                            .build();
                        let _ = self.swarm.dial(opts);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two nodes that dialled each other at once each see both connections, from opposite
    /// ends; whichever order they were established in, both must close the same one.
    #[test]
    fn both_ends_of_a_double_connection_close_the_same_one() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let (a_dialled, b_dialled) = (ConnectionId::new_unchecked(1), ConnectionId::new_unchecked(2));
        // On a, a_dialled is the one a dialled; on b, the same connection is one b did not dial.
        for a_first in [true, false] {
            for b_first in [true, false] {
                let on_a = if a_first {
                    connection_to_close(&a, &b, (a_dialled, true), (b_dialled, false))
                } else {
                    connection_to_close(&a, &b, (b_dialled, false), (a_dialled, true))
                };
                let on_b = if b_first {
                    connection_to_close(&b, &a, (a_dialled, false), (b_dialled, true))
                } else {
                    connection_to_close(&b, &a, (b_dialled, true), (a_dialled, false))
                };
                assert_eq!(on_a, on_b, "a first: {a_first}, b first: {b_first}");
                // The kept one was dialled by the smaller peer id.
                let kept = if on_a == a_dialled { b_dialled } else { a_dialled };
                assert_eq!(kept == a_dialled, a < b);
            }
        }
    }
}
