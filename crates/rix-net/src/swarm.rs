//! The libp2p behaviours and the swarm built from them: transport, gossipsub and its scoring,
//! the sync protocol, admission and connection limits.

use std::time::Duration;

use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, MessageId, ValidationMode};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{Swarm, allow_block_list, connection_limits, identify, memory_connection_limits, noise, ping, tcp, yamux};
use rix_record::RecordId;

use crate::identity::NodeIdentity;
use crate::protocol::{SYNC_PROTOCOL, SyncCodec};
use crate::service::{MAX_TRANSMIT_BYTES, NetError, NetworkSettings};

/// The network behaviour: admission first, so refused peers reach nothing else.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) admission: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) memory: Toggle<memory_connection_limits::Behaviour>,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Toggle<Mdns>,
}

/// LAN discovery, with the `mdns` feature; without it, a behaviour that does nothing.
#[cfg(feature = "mdns")]
type Mdns = libp2p::mdns::tokio::Behaviour;
#[cfg(not(feature = "mdns"))]
type Mdns = libp2p::swarm::dummy::Behaviour;

/// Most record ids in one IHAVE (see where the gossipsub configuration is built).
const MAX_IHAVE_IDS: usize = 400;

/// The swarm, listening nowhere yet.
pub(crate) fn build_swarm(
    identity: &NodeIdentity,
    settings: &NetworkSettings,
    topic: &IdentTopic,
) -> Result<Swarm<Behaviour>, NetError> {
    let setup = |e: &dyn std::fmt::Display| NetError::Setup(e.to_string());
    let gossip_config = gossipsub::ConfigBuilder::default()
        // Messages go out signed (`MessageAuthenticity::Signed` below) and are forwarded with
        // their `from`, `seqno` and signature: js-libp2p, go-libp2p and py-libp2p sign and
        // require all three by default (js-libp2p's StrictSign), and refuse a relayed message
        // that lacks them. Under `ValidationMode::None` rust-libp2p drops `from` and `seqno`
        // when it decodes a message, so every relayed record was refused by those peers;
        // Strict keeps them. Strict also verifies the signature, and a relay must, or it would
        // forward forged signatures that its peers then blame on it. The vendored gossipsub
        // verifies once per message id, after the duplicate check, instead of every copy
        // received (vendor/README.md; the cost is in docs/performance-log.md).
        .validation_mode(ValidationMode::Strict)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::topic_for;

    /// A full IHAVE must fit what a gossipsub receiver accepts in the control part of one RPC;
    /// a larger one makes the receiver drop the stream it reads our gossip from, silently.
    #[test]
    fn a_full_ihave_fits_a_receivers_control_limit() {
        let limit = gossipsub::Config::default().max_control_message_size();
        // The longest topic: a 64-character network name (the charter's limit).
        let topic = topic_for(&"n".repeat(64), &"f".repeat(64)).hash().into_string();
        // Protobuf: ControlMessage.ihave (tag, length up to 3 bytes) holding ControlIHave's
        // topic_id (tag, length, bytes) and one message_ids entry per id (tag, length, 32 bytes).
        let size = 1 + 3 + (1 + 1 + topic.len()) + MAX_IHAVE_IDS * (1 + 1 + 32);
        assert!(size <= limit, "an IHAVE of {MAX_IHAVE_IDS} ids takes {size} bytes, over {limit}");
    }
}
