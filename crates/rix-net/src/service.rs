//! The network service. One task ([`EventLoop`]) owns the libp2p `Swarm`; the rest of rix holds
//! a cloneable [`NetworkHandle`] that sends it commands with oneshot replies, and receives
//! [`NetworkEvent`]s. No libp2p swarm event leaves this module.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, ValidationMode};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Swarm, allow_block_list, connection_limits, identify, memory_connection_limits, noise, ping,
    tcp, yamux,
};
use rix_engine::Clock;
use rix_engine::dial::connection_to_close;
use rix_engine::serve::ServeBudgets;
use rix_record::{Charter, MAX_RECORD_BYTES, RecordId, SignedRecord};
use tokio::sync::{mpsc, oneshot};

use crate::identity::NodeIdentity;
use crate::protocol::{SYNC_PROTOCOL, SyncCodec, SyncRequest, SyncResponse};

/// Capacity of the command channel into the event loop.
pub const COMMAND_CAPACITY: usize = 256;
/// Capacity of the event channel out of the event loop. When full, gossip is ignored (the
/// record comes back through sync) rather than stalling the swarm.
pub const EVENT_CAPACITY: usize = 1024;
/// Gossip frames are records plus gossipsub framing and signature.
const MAX_TRANSMIT_BYTES: usize = MAX_RECORD_BYTES + 16 * 1024;

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
    /// Find LAN peers with mDNS (only in a build with the `mdns` feature).
    pub mdns: bool,
    /// Close connections idle this long.
    pub idle_timeout: Duration,
    /// First redial delay.
    pub redial_min: Duration,
    /// Longest redial delay.
    pub redial_max: Duration,
    /// Sync request timeout.
    pub request_timeout: Duration,
    /// Most established connections.
    pub max_connections: u32,
    /// Refuse new connections while the process uses more than this many bytes (0: no limit).
    pub max_memory_bytes: usize,
    /// What one peer may ask of this node.
    pub serve: ServeLimits,
}

pub use rix_engine::ServeLimits;
/// Why a sync request was answered [`SyncResponse::Busy`].
pub use rix_engine::serve::Refusal as SyncRefusal;

/// The gossip topic of a network: networks never share one.
pub fn topic_for(network: &str) -> IdentTopic {
    IdentTopic::new(format!("/rix/{network}/records/1"))
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
    /// A peer asks for sync data; answer with [`NetworkHandle::respond`].
    SyncRequest {
        /// The asking peer.
        peer: PeerId,
        /// What it asks.
        request: SyncRequest,
        /// Where the answer goes.
        channel: ResponseChannel<SyncResponse>,
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
    /// A sync request over the peer's [`ServeLimits`] was answered [`SyncResponse::Busy`].
    SyncRefused {
        /// The peer.
        peer: PeerId,
        /// Which limit.
        reason: SyncRefusal,
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

enum Command {
    Publish { record: SignedRecord, reply: oneshot::Sender<GossipOutcome> },
    Validate { message_id: MessageId, source: PeerId, acceptance: MessageAcceptance },
    Request { peer: PeerId, request: SyncRequest, reply: oneshot::Sender<Result<SyncResponse, NetError>> },
    Respond { channel: ResponseChannel<SyncResponse>, response: SyncResponse },
    Peers { reply: oneshot::Sender<Vec<ConnectedPeer>> },
    ListenAddrs { reply: oneshot::Sender<Vec<Multiaddr>> },
    Disconnect { peer: PeerId },
    Ban { peer: PeerId, duration: Duration },
    Shutdown,
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
    pub async fn respond(
        &self,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    ) -> Result<(), NetError> {
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

    /// Disconnects a peer and refuses its connections for `duration`, even if the charter
    /// admits it.
    pub async fn ban(&self, peer: PeerId, duration: Duration) -> Result<(), NetError> {
        self.send(Command::Ban { peer, duration }).await
    }

    /// Stops the event loop.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

/// The network behaviour: admission first, so refused peers reach nothing else.
#[derive(NetworkBehaviour)]
struct Behaviour {
    admission: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    memory: Toggle<memory_connection_limits::Behaviour>,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<Mdns>,
}

/// LAN discovery, with the `mdns` feature; without it, a behaviour that does nothing.
#[cfg(feature = "mdns")]
type Mdns = libp2p::mdns::tokio::Behaviour;
#[cfg(not(feature = "mdns"))]
type Mdns = libp2p::swarm::dummy::Behaviour;

struct Redial {
    addresses: Vec<Multiaddr>,
    next_attempt: Instant,
    backoff: Duration,
}

/// The task that owns the swarm. Run it with [`EventLoop::run`].
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    topic: IdentTopic,
    charter: Charter,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, NetError>>>,
    redial: HashMap<PeerId, Redial>,
    connected: HashMap<PeerId, PeerLink>,
    serving: ServeBudgets<PeerId>,
    /// The serve budget's clock.
    clock: Clock,
    banned: HashMap<PeerId, Instant>,
    settings: NetworkSettings,
}

/// The connection kept to a connected peer.
struct PeerLink {
    address: Multiaddr,
    /// `None` once it closed while a second connection remained (rare: that one is kept).
    connection: Option<ConnectionId>,
    we_dialed: bool,
}

/// Most record ids in one IHAVE (see where the gossipsub configuration is built).
const MAX_IHAVE_IDS: usize = 400;

/// [`rix_engine::dial::dial_delay`] with this process's jitter: the smaller peer id dials at
/// once, the other about one redial delay later, so dials do not cross.
fn dial_delay(local: &PeerId, remote: &PeerId, redial_min: Duration) -> Duration {
    rix_engine::dial::dial_delay(local, remote, redial_min, &mut rix_engine::Rng::from_entropy())
}

/// Builds the network service: the handle, the event stream, and the loop to spawn.
pub fn new(
    identity: &NodeIdentity,
    settings: NetworkSettings,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>, EventLoop), NetError> {
    let topic = topic_for(&settings.charter.network);
    let mut swarm = build_swarm(identity, &settings, &topic)?;
    for addr in &settings.listen {
        swarm.listen_on(addr.clone()).map_err(|e| NetError::Setup(format!("listening on {addr}: {e}")))?;
    }
    let local = *swarm.local_peer_id();
    let mut redial = HashMap::new();
    for (peer, addresses) in charter_peers(&settings.charter)? {
        if peer != local {
            swarm.behaviour_mut().admission.allow_peer(peer);
            if !addresses.is_empty() {
                let next_attempt = Instant::now() + dial_delay(&local, &peer, settings.redial_min);
                redial.insert(peer, Redial { addresses, next_attempt, backoff: settings.redial_min });
            }
        }
    }
    let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
    let event_loop = EventLoop {
        swarm,
        commands: command_rx,
        events: event_tx,
        topic,
        charter: settings.charter.clone(),
        pending: HashMap::new(),
        redial,
        connected: HashMap::new(),
        serving: ServeBudgets::new(settings.serve),
        clock: Clock::start(),
        banned: HashMap::new(),
        settings,
    };
    Ok((NetworkHandle { commands: command_tx, local_peer_id: local }, event_rx, event_loop))
}

/// Peer ids of the charter's member nodes and observers, with their dialable addresses.
fn charter_peers(charter: &Charter) -> Result<Vec<(PeerId, Vec<Multiaddr>)>, NetError> {
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

fn build_swarm(
    identity: &NodeIdentity,
    settings: &NetworkSettings,
    topic: &IdentTopic,
) -> Result<Swarm<Behaviour>, NetError> {
    let setup = |e: &dyn std::fmt::Display| NetError::Setup(e.to_string());
    let gossip_config = gossipsub::ConfigBuilder::default()
        // Messages go out signed (`MessageAuthenticity::Signed` below): js-libp2p and py-libp2p
        // sign and require signatures by default, and a node with another policy delivers
        // nothing to them. Incoming signatures are not checked again: they would only prove
        // which libp2p node first published the message, which rix never uses, while every
        // record inside is verified against its author's member key before it is stored or
        // forwarded. Checking them cost an ed25519 verification of every copy received,
        // duplicates included, about a tenth of a node's CPU (docs/performance.md).
        .validation_mode(ValidationMode::None)
        // At most 400 message ids in one IHAVE, so that it stays under the 16 KiB a receiver
        // accepts in the control part of one RPC (gossipsub's `max_control_message_size`; each
        // 32-byte record id takes 34 bytes). With gossipsub's default cap of 5,000, an IHAVE
        // to a peer outside the mesh grew past that at 100 records/s; the peer then closed
        // the stream it reads this node's gossip from, the sender did not notice, and from
        // then on nothing it gossiped reached that peer directly, only by relay
        // (docs/performance.md, "An IHAVE too large").
        .max_control_messages_sent(MAX_IHAVE_IDS)
        .validate_messages()
        .max_transmit_size(MAX_TRANSMIT_BYTES)
        .heartbeat_interval(Duration::from_millis(700))
        // The record id is the message id: every implementation computes SHA-256 of the data.
        .message_id_fn(|message: &gossipsub::Message| {
            MessageId::from(RecordId::of_envelope(&message.data).as_bytes().to_vec())
        })
        .build()
        .map_err(|e| setup(&e))?;
    let request_timeout = settings.request_timeout;
    let mdns_enabled = settings.mdns;
    let max_connections = settings.max_connections;
    let max_memory_bytes = settings.max_memory_bytes;
    let topic = topic.clone();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| {
            let mut gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip_config)?;
            gossipsub.with_peer_score(score_params(&topic), score_thresholds())?;
            gossipsub.subscribe(&topic)?;
            let sync = request_response::Behaviour::with_codec(
                SyncCodec,
                [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(64),
            );
            #[cfg(feature = "mdns")]
            let mdns = if mdns_enabled {
                Some(Mdns::new(libp2p::mdns::Config::default(), key.public().to_peer_id())?)
            } else {
                None
            };
            // The node's config refuses `network.mdns = true` in a build without the feature.
            #[cfg(not(feature = "mdns"))]
            let mdns: Option<Mdns> = mdns_enabled.then_some(libp2p::swarm::dummy::Behaviour);
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established(Some(max_connections))
                // Two, for the moment both sides dial each other; the event loop then closes
                // one, the same one on both sides (`connection_to_close`). Refusing the second
                // outright made both sides refuse each other's when the dials crossed, and the
                // pair stayed apart until a redial, a second later.
                .with_max_established_per_peer(Some(2))
                .with_max_pending_incoming(Some(max_connections));
            Ok(Behaviour {
                admission: allow_block_list::Behaviour::default(),
                limits: connection_limits::Behaviour::new(limits),
                memory: (max_memory_bytes > 0)
                    .then(|| memory_connection_limits::Behaviour::with_max_bytes(max_memory_bytes))
                    .into(),
                gossipsub,
                sync,
                identify: identify::Behaviour::new(identify::Config::new("/rix/1.0.0".into(), key.public())),
                ping: ping::Behaviour::default(),
                mdns: mdns.into(),
            })
        })
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(settings.idle_timeout))
        .build();
    Ok(swarm)
}

/// Peer scoring tuned for a small, admitted, low-traffic network: no penalty for quiet mesh
/// peers or for sharing an IP (every devnet node is on 127.0.0.1), a heavy one for invalid
/// records, so a peer that forwards a few is graylisted.
fn score_params(topic: &IdentTopic) -> gossipsub::PeerScoreParams {
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        // Small, capped rewards for staying in the mesh and delivering first (at most +10.1),
        // so that a handful of invalid records always outweighs them.
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 10.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.5,
        first_message_deliveries_cap: 10.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // Squared: 1 invalid record = -20, 2 = -80 (graylisted), 3 = -180.
        invalid_message_deliveries_weight: -20.0,
        invalid_message_deliveries_decay: 0.9,
        ..Default::default()
    };
    let mut params = gossipsub::PeerScoreParams { ip_colocation_factor_weight: 0.0, ..Default::default() };
    params.topics.insert(topic.hash(), topic_params);
    params
}

fn score_thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        ..Default::default()
    }
}

impl EventLoop {
    /// Runs until [`NetworkHandle::shutdown`] or until every handle is dropped.
    pub async fn run(mut self) {
        let mut redial_tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                _ = redial_tick.tick() => self.redial_due(),
            }
        }
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(NetError::Stopped));
        }
        tracing::debug!("network event loop stopped");
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

    fn request_finished(&mut self, peer: PeerId) {
        self.serving.finished(&peer);
    }

    fn role_of(&self, peer: &PeerId) -> String {
        let id = peer.to_string();
        match (self.charter.member_by_peer(&id), self.charter.observer(&id)) {
            (Some(m), _) => m.code.to_string(),
            (None, Some(o)) => format!("observer:{}", o.name),
            _ => "unknown".into(),
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { record, reply } => {
                let outcome =
                    match self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), record.bytes().to_vec()) {
                        Ok(_) => GossipOutcome::Sent,
                        Err(gossipsub::PublishError::Duplicate) => GossipOutcome::Duplicate,
                        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => GossipOutcome::NoPeers,
                        Err(e) => {
                            tracing::warn!(error = %e, "gossip publish failed; the record will travel by sync");
                            GossipOutcome::NoPeers
                        }
                    };
                let _ = reply.send(outcome);
            }
            Command::Validate { message_id, source, acceptance } => {
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(&message_id, &source, acceptance);
            }
            Command::Request { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                if self.swarm.behaviour_mut().sync.send_response(channel, response).is_err() {
                    tracing::debug!("sync response not sent: the requester went away");
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
                self.banned.insert(peer, Instant::now() + duration);
            }
            Command::Shutdown => unreachable!("handled in run"),
        }
    }

    fn redial_due(&mut self) {
        let now = Instant::now();
        let expired: Vec<PeerId> = self.banned.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for peer in expired {
            self.banned.remove(&peer);
            if self.charter.admits_peer(&peer.to_string()) {
                tracing::info!(%peer, "ban expired; the peer is admitted again");
                self.swarm.behaviour_mut().admission.allow_peer(peer);
            }
        }
        let due: Vec<(PeerId, Vec<Multiaddr>)> = self
            .redial
            .iter_mut()
            .filter(|(peer, r)| {
                r.next_attempt <= now && !self.connected.contains_key(peer) && !self.banned.contains_key(peer)
            })
            .map(|(peer, r)| {
                r.next_attempt = now + crate::jittered(r.backoff);
                r.backoff = (r.backoff * 2).min(self.settings.redial_max);
                (*peer, r.addresses.clone())
            })
            .collect();
        for (peer, addresses) in due {
            let opts = DialOpts::peer_id(peer)
                .addresses(addresses)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::trace!(%peer, error = %e, "dial not started");
            }
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
                if let Some(r) = self.redial.get_mut(&peer_id) {
                    r.backoff = self.settings.redial_min;
                }
                self.emit(NetworkEvent::PeerConnected { peer: peer_id });
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
                self.serving.forget(&peer_id);
                let local = *self.swarm.local_peer_id();
                if let Some(r) = self.redial.get_mut(&peer_id) {
                    let delay = crate::jittered(self.settings.redial_min)
                        + dial_delay(&local, &peer_id, self.settings.redial_min);
                    r.next_attempt = Instant::now() + delay;
                }
                self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
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
                let record = SignedRecord::from_bytes(message.data);
                let event =
                    NetworkEvent::GossipRecord { source: propagation_source, message_id: message_id.clone(), record };
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
                request_response::Message::Request { request, channel, .. } => {
                    // Every inbound request holds a stream until its response is written (or
                    // fails); counting them bounds what a slow reader can pin in memory.
                    let admitted = self.serving.admit(&peer, self.clock.now());
                    let refuse = |swarm: &mut Swarm<Behaviour>, channel, response| {
                        let _ = swarm.behaviour_mut().sync.send_response(channel, response);
                    };
                    if !self.charter.admits_peer(&peer.to_string()) || self.banned.contains_key(&peer) {
                        refuse(&mut self.swarm, channel, SyncResponse::Error { message: "not admitted".into() });
                    } else if let Err(reason) = admitted {
                        let retry_after_ms = self.serving.retry_after().as_millis() as u64;
                        refuse(&mut self.swarm, channel, SyncResponse::Busy { retry_after_ms });
                        self.emit(NetworkEvent::SyncRefused { peer, reason });
                    } else {
                        self.emit(NetworkEvent::SyncRequest { peer, request, channel });
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
            BehaviourEvent::Sync(request_response::Event::InboundFailure { peer, error, .. }) => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
                self.request_finished(peer);
            }
            BehaviourEvent::Sync(request_response::Event::ResponseSent { peer, .. }) => self.request_finished(peer),
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

    /// A full IHAVE must fit what a gossipsub receiver accepts in the control part of one RPC;
    /// a larger one makes the receiver drop the stream it reads our gossip from, silently.
    #[test]
    fn a_full_ihave_fits_a_receivers_control_limit() {
        let limit = gossipsub::Config::default().max_control_message_size();
        // The longest topic: a 64-character network name (the charter's limit).
        let topic = topic_for(&"n".repeat(64)).hash().into_string();
        // Protobuf: ControlMessage.ihave (tag, length up to 3 bytes) holding ControlIHave's
        // topic_id (tag, length, bytes) and one message_ids entry per id (tag, length, 32 bytes).
        let size = 1 + 3 + (1 + 1 + topic.len()) + MAX_IHAVE_IDS * (1 + 1 + 32);
        assert!(size <= limit, "an IHAVE of {MAX_IHAVE_IDS} ids takes {size} bytes, over {limit}");
    }

    /// Of two peers that know each other's address, exactly one dials at once; the other waits
    /// about one redial delay, so their dials do not cross (and the first wins the tie-break).
    #[test]
    fn only_the_smaller_peer_id_dials_at_once() {
        let redial_min = Duration::from_secs(1);
        for _ in 0..50 {
            let (a, b) = (PeerId::random(), PeerId::random());
            let (small, large) = if a < b { (a, b) } else { (b, a) };
            assert_eq!(dial_delay(&small, &large, redial_min), Duration::ZERO);
            let wait = dial_delay(&large, &small, redial_min);
            assert!(wait >= redial_min * 3 / 4 && wait < redial_min * 5 / 4, "{wait:?}");
        }
    }
}
