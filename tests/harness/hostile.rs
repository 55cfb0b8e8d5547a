//! A hostile member node for adversarial tests. It uses rix's own transport stack (TCP, Noise,
//! Yamux, signed gossipsub on the rix topic, the `/rix/sync/1` codec) with none of rix's
//! checks, so it can send what honest nodes never do: invalid, oversized and replayed gossip,
//! equivocations, sync floods, and sync requests whose responses it never reads.
//!
//! Like the real service, one task owns the swarm and the test drives it through a handle.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite, StreamExt};
use libp2p::gossipsub::{self, MessageAuthenticity, MessageId};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, identity::Keypair, noise, tcp, yamux};
use rix_net::protocol::{self, SYNC_PROTOCOL, SyncCodec, SyncRequest, SyncResponse};
use rix_record::RecordId;
use tokio::sync::{mpsc, oneshot};

/// Largest gossip frame the hostile node will send: far above what rix accepts.
const HOSTILE_TRANSMIT_BYTES: usize = 4 * 1024 * 1024;

/// A codec that sends sync requests and never reads the responses: a slow reader.
#[derive(Debug, Clone, Default)]
struct StallingCodec;

impl request_response::Codec for StallingCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> io::Result<SyncRequest> {
        Err(io::Error::other("the hostile node serves nothing"))
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> io::Result<SyncResponse> {
        futures::future::pending().await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()> {
        protocol::write_request(io, &request).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: SyncResponse,
    ) -> io::Result<()> {
        Err(io::Error::other("the hostile node serves nothing"))
    }
}

#[derive(NetworkBehaviour)]
struct HostileBehaviour {
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    stall: request_response::Behaviour<StallingCodec>,
}

enum HostileCommand {
    Publish { data: Vec<u8>, reply: oneshot::Sender<bool> },
    Request { request: SyncRequest, reply: oneshot::Sender<Result<SyncResponse, String>> },
    Stall { request: SyncRequest },
    GossipPeers { reply: oneshot::Sender<usize> },
    Connected { reply: oneshot::Sender<bool> },
}

/// A handle to a running hostile node attacking one target peer.
#[derive(Clone)]
pub struct Hostile {
    commands: mpsc::Sender<HostileCommand>,
    /// Its peer id (a charter member's node id).
    pub peer_id: PeerId,
}

impl Hostile {
    /// Starts a hostile node with `key` (a member's node key, so admission lets it in) on
    /// gossip topic `topic`, dialing `target` at `address`.
    pub fn spawn(key: Keypair, topic: gossipsub::IdentTopic, target: PeerId, address: Multiaddr) -> Self {
        Self::spawn_as(key, true, topic, target, address)
    }

    /// Like [`Hostile::spawn`], but its gossip carries `from` and `seqno` and no signature
    /// (gossipsub's `MessageAuthenticity::Author`), which a strict receiver refuses.
    pub fn spawn_unsigned(key: Keypair, topic: gossipsub::IdentTopic, target: PeerId, address: Multiaddr) -> Self {
        Self::spawn_as(key, false, topic, target, address)
    }

    fn spawn_as(key: Keypair, signed: bool, topic: gossipsub::IdentTopic, target: PeerId, address: Multiaddr) -> Self {
        let peer_id = key.public().to_peer_id();
        let config = gossipsub::ConfigBuilder::default()
            .max_transmit_size(HOSTILE_TRANSMIT_BYTES)
            .heartbeat_interval(Duration::from_millis(700))
            // gossipsub refuses to publish unsigned under its default, Strict.
            .validation_mode(if signed {
                gossipsub::ValidationMode::Strict
            } else {
                gossipsub::ValidationMode::Permissive
            })
            .message_id_fn(|m: &gossipsub::Message| MessageId::from(RecordId::of_envelope(&m.data).as_bytes().to_vec()))
            .build()
            .expect("gossipsub config");
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .expect("transport")
            .with_behaviour(|key| {
                let authenticity = if signed {
                    MessageAuthenticity::Signed(key.clone())
                } else {
                    MessageAuthenticity::Author(key.public().to_peer_id())
                };
                let mut gossipsub = gossipsub::Behaviour::new(authenticity, config).expect("gossipsub");
                gossipsub.subscribe(&topic).expect("subscribe");
                let rr = || request_response::Config::default().with_request_timeout(Duration::from_secs(300));
                HostileBehaviour {
                    gossipsub,
                    sync: request_response::Behaviour::with_codec(
                        SyncCodec,
                        [(SYNC_PROTOCOL, ProtocolSupport::Outbound)],
                        rr().with_max_concurrent_streams(1024),
                    ),
                    stall: request_response::Behaviour::with_codec(
                        StallingCodec,
                        [(SYNC_PROTOCOL, ProtocolSupport::Outbound)],
                        rr().with_max_concurrent_streams(1024),
                    ),
                }
            })
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
            .build();
        swarm.dial(address).expect("dial the target");
        let (commands, rx) = mpsc::channel(64);
        tokio::spawn(run(swarm, rx, topic, target));
        Self { commands, peer_id }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> HostileCommand) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(make(reply)).await.ok()?;
        rx.await.ok()
    }

    /// Gossips raw bytes; true if gossipsub sent them to at least one peer.
    pub async fn publish(&self, data: Vec<u8>) -> bool {
        self.ask(|reply| HostileCommand::Publish { data, reply }).await.unwrap_or(false)
    }

    /// Sends a sync request to the target and waits for the answer.
    pub async fn request(&self, request: SyncRequest) -> Result<SyncResponse, String> {
        self.ask(|reply| HostileCommand::Request { request, reply })
            .await
            .unwrap_or_else(|| Err("hostile node stopped".into()))
    }

    /// Sends a sync request to the target and never reads the response.
    pub async fn request_and_stall(&self, request: SyncRequest) {
        let _ = self.commands.send(HostileCommand::Stall { request }).await;
    }

    /// Peers subscribed to the topic, as gossipsub sees them.
    pub async fn gossip_peers(&self) -> usize {
        self.ask(|reply| HostileCommand::GossipPeers { reply }).await.unwrap_or(0)
    }

    /// Whether it is connected to the target.
    pub async fn connected(&self) -> bool {
        self.ask(|reply| HostileCommand::Connected { reply }).await.unwrap_or(false)
    }
}

async fn run(
    mut swarm: Swarm<HostileBehaviour>,
    mut commands: mpsc::Receiver<HostileCommand>,
    topic: gossipsub::IdentTopic,
    target: PeerId,
) {
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, String>>> = HashMap::new();
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(HostileBehaviourEvent::Sync(request_response::Event::Message {
                    message: request_response::Message::Response { request_id, response },
                    ..
                })) => {
                    if let Some(reply) = pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
                SwarmEvent::Behaviour(HostileBehaviourEvent::Sync(request_response::Event::OutboundFailure {
                    request_id,
                    error,
                    ..
                })) => {
                    if let Some(reply) = pending.remove(&request_id) {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
                _ => {}
            },
            command = commands.recv() => match command {
                None => return,
                Some(HostileCommand::Publish { data, reply }) => {
                    let _ = reply.send(swarm.behaviour_mut().gossipsub.publish(topic.clone(), data).is_ok());
                }
                Some(HostileCommand::Request { request, reply }) => {
                    let id = swarm.behaviour_mut().sync.send_request(&target, request);
                    pending.insert(id, reply);
                }
                Some(HostileCommand::Stall { request }) => {
                    swarm.behaviour_mut().stall.send_request(&target, request);
                }
                Some(HostileCommand::GossipPeers { reply }) => {
                    let _ = reply.send(swarm.behaviour().gossipsub.all_peers().filter(|(_, t)| !t.is_empty()).count());
                }
                Some(HostileCommand::Connected { reply }) => {
                    let _ = reply.send(swarm.is_connected(&target));
                }
            },
        }
    }
}
