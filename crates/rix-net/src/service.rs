//! The network service's public face: the [`NetworkHandle`] the rest of rix holds, the
//! [`NetworkEvent`]s it receives, and [`new`], which builds the swarm and the [`EventLoop`] task
//! that owns it (`event_loop.rs`; the behaviours are built in `swarm.rs`). No libp2p swarm event
//! leaves this crate.
//!
//! Policy is not decided here: when to dial, whom to ban and for how long, what a peer may ask
//! of this node, are the engine's (`rix-engine`), which the node drives. This crate carries out
//! its orders: dial this peer, refuse that one until told otherwise, answer this request.

use std::collections::HashMap;
use std::time::Duration;

use libp2p::gossipsub::{IdentTopic, MessageAcceptance, MessageId};
use libp2p::request_response::{InboundRequestId, ResponseChannel};
use libp2p::{Multiaddr, PeerId};
use rix_record::{Charter, MAX_RECORD_BYTES, SignedRecord};
use tokio::sync::{mpsc, oneshot};

pub use crate::event_loop::EventLoop;
use crate::identity::NodeIdentity;
use crate::protocol::{SyncRequest, SyncResponse};
use crate::swarm::build_swarm;

/// Capacity of the command channel into the event loop.
pub const COMMAND_CAPACITY: usize = 256;
/// Capacity of the event channel out of the event loop. When full, gossip is ignored (the
/// record comes back through sync) rather than stalling the swarm.
pub const EVENT_CAPACITY: usize = 1024;
/// Gossip frames are records plus gossipsub framing and signature.
pub(crate) const MAX_TRANSMIT_BYTES: usize = MAX_RECORD_BYTES + 16 * 1024;

/// Network failures, as seen by callers of the handle.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    /// The event loop has stopped.
    #[error("the network service has stopped")]
    Stopped,
    /// A listen or peer address is not a valid multiaddress or peer id.
    #[error("invalid address {0}")]
    Address(String),
    /// Building the transport or a behaviour failed.
    #[error("network setup: {0}")]
    Setup(String),
    /// A sync request failed (dial failure, timeout, closed connection, protocol error).
    #[error("sync request to {peer} failed: {reason}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// What the network service needs to know.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// The charter: who may connect, whom to dial, and the network name.
    pub charter: Charter,
    /// The charter's genesis hash (64 hex digits), which the gossip topic names.
    pub genesis: String,
    /// Find LAN peers with mDNS (only in a build with the `mdns` feature).
    pub mdns: bool,
    /// Close connections idle this long.
    pub idle_timeout: Duration,
    /// Sync request timeout.
    pub request_timeout: Duration,
    /// Most established connections.
    pub max_connections: u32,
    /// Refuse new connections while the process uses more than this many bytes (0: no limit).
    pub max_memory_bytes: usize,
}

/// The gossip topic of a network: networks never share one. It names the genesis hash, so
/// two networks that chose the same name do not mix either.
pub fn topic_for(network: &str, genesis: &str) -> IdentTopic {
    IdentTopic::new(format!("/rix/{network}/{genesis}/records/1"))
}

/// Outcome of publishing a record to gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GossipOutcome {
    /// Sent to at least one peer.
    Sent,
    /// No peer is subscribed yet; the record will travel by sync.
    NoPeers,
    /// Gossipsub had already seen this record.
    Duplicate,
}

/// A connected, admitted peer.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectedPeer {
    /// Its peer id.
    pub peer_id: PeerId,
    /// The remote address of its first connection.
    pub address: Multiaddr,
    /// Its member code, or `observer:NAME`.
    pub role: String,
    /// Its gossipsub score, if scoring has seen it.
    pub score: Option<f64>,
    /// The gossip protocol agreed with it ("Gossipsub v1.2"); "Floodsub" until a gossip
    /// stream has been opened either way.
    pub gossip_protocol: String,
    /// Whether it is in this node's gossip mesh (relays go to mesh peers only).
    pub in_mesh: bool,
    /// Whether it has told this node it subscribes to the network's topic: gossip goes only
    /// to peers that did.
    pub subscribed: bool,
}

/// Events for the node.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A record arrived by gossip. The node must answer with
    /// [`NetworkHandle::report_validation`].
    GossipRecord {
        /// The peer that forwarded it.
        source: PeerId,
        /// Gossipsub's id for it (the record id).
        message_id: MessageId,
        /// The bytes.
        record: SignedRecord,
    },
    /// A charter amendment or approval arrived by gossip (its bytes start with `RIXM` or
    /// `RIXV`). The node must answer with [`NetworkHandle::report_validation`].
    GossipCharter {
        /// The peer that forwarded it.
        source: PeerId,
        /// Gossipsub's id for it.
        message_id: MessageId,
        /// The bytes.
        item: Vec<u8>,
    },
    /// A peer asks for sync data; answer with [`NetworkHandle::respond`]. Every request
    /// delivered here is followed, once its answer has been written or has failed, by one
    /// [`NetworkEvent::Answered`], so the node can count what each peer has in flight.
    SyncRequest {
        /// The asking peer.
        peer: PeerId,
        /// What it asks.
        request: SyncRequest,
        /// Where the answer goes.
        channel: InboundRequest,
    },
    /// The answer to a [`NetworkEvent::SyncRequest`] from `peer` was written, or could not be
    /// (the stream failed, the peer left, or it was never answered).
    Answered {
        /// The peer.
        peer: PeerId,
    },
    /// `peer` has addresses in the charter: [`NetworkHandle::dial`] reaches it. Emitted once
    /// per such peer when the event loop starts.
    Dialable {
        /// The peer.
        peer: PeerId,
    },
    /// An admitted peer connected (first connection).
    PeerConnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer's last connection closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A connection from a peer the charter does not admit (or that is banned) was refused.
    PeerRefused {
        /// The address it came from.
        address: String,
    },
    /// Now listening on an address.
    Listening {
        /// The address.
        address: Multiaddr,
    },
}

pub(crate) enum Command {
    Publish { record: SignedRecord, reply: oneshot::Sender<GossipOutcome> },
    PublishCharter { item: Vec<u8>, reply: oneshot::Sender<GossipOutcome> },
    SetCharter { charter: Box<Charter> },
    Validate { message_id: MessageId, source: PeerId, acceptance: MessageAcceptance },
    Request { peer: PeerId, request: SyncRequest, reply: oneshot::Sender<Result<SyncResponse, NetError>> },
    Respond { channel: InboundRequest, response: SyncResponse },
    Peers { reply: oneshot::Sender<Vec<ConnectedPeer>> },
    ListenAddrs { reply: oneshot::Sender<Vec<Multiaddr>> },
    Disconnect { peer: PeerId },
    Ban { peer: PeerId, duration: Duration },
    Unban { peer: PeerId },
    Dial { peer: PeerId },
    Shutdown,
}

/// Where the answer to one inbound sync request goes: hand it back to
/// [`NetworkHandle::respond`].
#[derive(Debug)]
pub struct InboundRequest {
    pub(crate) id: InboundRequestId,
    pub(crate) channel: ResponseChannel<SyncResponse>,
}

/// A cloneable handle to the network service.
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl NetworkHandle {
    async fn send(&self, command: Command) -> Result<(), NetError> {
        self.commands.send(command).await.map_err(|_| NetError::Stopped)
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Gossips a record. Having no peers is not an error.
    pub async fn publish(&self, record: SignedRecord) -> Result<GossipOutcome, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Publish { record, reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Tells gossipsub whether to forward a received message (and whether to penalise its
    /// sender). Must be called once for every [`NetworkEvent::GossipRecord`].
    pub async fn report_validation(
        &self,
        message_id: MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    ) -> Result<(), NetError> {
        self.send(Command::Validate { message_id, source, acceptance }).await
    }

    /// Sends a sync request and waits for the response.
    pub async fn request(&self, peer: PeerId, request: SyncRequest) -> Result<SyncResponse, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Request { peer, request, reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)?
    }

    /// Answers a [`NetworkEvent::SyncRequest`].
    pub async fn respond(&self, channel: InboundRequest, response: SyncResponse) -> Result<(), NetError> {
        self.send(Command::Respond { channel, response }).await
    }

    /// Connected, admitted peers.
    pub async fn peers(&self) -> Result<Vec<ConnectedPeer>, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Peers { reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Addresses the node listens on.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::ListenAddrs { reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Closes every connection to a peer (it may reconnect if the charter admits it).
    pub async fn disconnect(&self, peer: PeerId) -> Result<(), NetError> {
        self.send(Command::Disconnect { peer }).await
    }

    /// Disconnects a peer and refuses its connections and requests, even if the charter
    /// admits it, until [`NetworkHandle::unban`]. `duration` is what the caller intends (for
    /// the log): the ban's clock is the caller's, so there is one ban table, not two.
    pub async fn ban(&self, peer: PeerId, duration: Duration) -> Result<(), NetError> {
        self.send(Command::Ban { peer, duration }).await
    }

    /// Lifts a ban: the peer is admitted again if the charter admits it.
    pub async fn unban(&self, peer: PeerId) -> Result<(), NetError> {
        self.send(Command::Unban { peer }).await
    }

    /// Dials a peer at its charter addresses, unless it is connected, being dialled or banned.
    /// When to dial (delay, back-off) is the caller's policy.
    pub async fn dial(&self, peer: PeerId) -> Result<(), NetError> {
        self.send(Command::Dial { peer }).await
    }

    /// Gossips a charter amendment or approval.
    pub async fn publish_charter(&self, item: Vec<u8>) -> Result<GossipOutcome, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::PublishCharter { item, reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// A new charter version: admits and dials its new members' nodes and observers, and
    /// disconnects and refuses the peers it no longer lists.
    pub async fn set_charter(&self, charter: Charter) -> Result<(), NetError> {
        self.send(Command::SetCharter { charter: Box::new(charter) }).await
    }

    /// Stops the event loop.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

/// Builds the network service: the handle, the event stream, and the loop to spawn.
pub fn new(
    identity: &NodeIdentity,
    settings: NetworkSettings,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>, EventLoop), NetError> {
    let topic = topic_for(&settings.charter.network, &settings.genesis);
    let mut swarm = build_swarm(identity, &settings, &topic)?;
    for addr in &settings.listen {
        swarm.listen_on(addr.clone()).map_err(|e| NetError::Setup(format!("listening on {addr}: {e}")))?;
    }
    let local = *swarm.local_peer_id();
    let mut addresses = HashMap::new();
    for (peer, addrs) in charter_peers(&settings.charter)? {
        if peer != local {
            swarm.behaviour_mut().admission.allow_peer(peer);
            if !addrs.is_empty() {
                addresses.insert(peer, addrs);
            }
        }
    }
    let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
    let event_loop = EventLoop::new(swarm, command_rx, event_tx, topic, settings.charter, addresses);
    Ok((NetworkHandle { commands: command_tx, local_peer_id: local }, event_rx, event_loop))
}

/// Peer ids of the charter's member nodes and observers, with their dialable addresses.
pub(crate) fn charter_peers(charter: &Charter) -> Result<Vec<(PeerId, Vec<Multiaddr>)>, NetError> {
    let entries = charter
        .members
        .iter()
        .filter(|m| !m.peer_id.is_empty())
        .map(|m| (&m.peer_id, &m.addresses))
        .chain(charter.observers.iter().map(|o| (&o.peer_id, &o.addresses)));
    let mut out = Vec::new();
    for (peer_id, addresses) in entries {
        let peer: PeerId = peer_id.parse().map_err(|_| NetError::Address(format!("peer id {peer_id}")))?;
        let addrs = addresses
            .iter()
            .map(|a| a.parse::<Multiaddr>().map_err(|_| NetError::Address(a.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        out.push((peer, addrs));
    }
    Ok(out)
}
