//! Node identity: the libp2p keypair a node dials and listens with, kept as an ed25519 seed
//! in the same file format as the member's signing key.

use std::path::Path;

use libp2p::PeerId;
use libp2p::identity::Keypair;
use rix_record::keys::{KeyError, load_seed, random_seed, save_seed};

/// A node's libp2p identity.
#[derive(Clone)]
pub struct NodeIdentity {
    keypair: Keypair,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeIdentity({})", self.peer_id())
    }
}

impl NodeIdentity {
    /// The identity for a 32-byte ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let keypair = Keypair::ed25519_from_bytes(seed).expect("any 32 bytes are an ed25519 secret key");
        Self { keypair }
    }

    /// A fresh random identity.
    pub fn generate() -> Result<(Self, [u8; 32]), KeyError> {
        let seed = random_seed()?;
        Ok((Self::from_seed(seed), seed))
    }

    /// Loads the identity from a key file (mode 0600 enforced).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        load_seed(path).map(Self::from_seed)
    }

    /// Creates a new identity and writes it to `path`.
    pub fn create(path: &Path, overwrite: bool) -> Result<Self, KeyError> {
        let (identity, seed) = Self::generate()?;
        save_seed(path, &seed, "rix node identity (libp2p ed25519 seed)", overwrite)?;
        Ok(identity)
    }

    /// The peer id.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The keypair, for building a swarm.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }
}
