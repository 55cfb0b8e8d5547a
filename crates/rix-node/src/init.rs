//! `rix init`: a new node directory with its config, keys, journal and data directory, and
//! (optionally) this member's entry in a charter file.

use std::path::PathBuf;

use rix_net::NodeIdentity;
use rix_record::{Charter, CharterMember, KeyError, MemberCode, MemberKey};
use serde::Serialize;

use crate::config::{NodeConfig, config_template};
use crate::error::NodeError;
use crate::publish::SigningJournal;

/// The default network name for a charter created by `rix init`.
pub const DEFAULT_NETWORK: &str = "almaty-integrity";

/// What `rix init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The node directory.
    pub dir: PathBuf,
    /// The member code, or `None` for an observer node (replicates, never authors; the
    /// members admit it with `rix charter add-observer`).
    pub member: Option<MemberCode>,
    /// The administration's name.
    pub name: Option<String>,
    /// Listen multiaddresses.
    pub listen: Vec<String>,
    /// API `HOST:PORT`.
    pub api: String,
    /// A charter file to add this member to (created if missing); default `DIR/charter.toml`.
    pub charter: Option<PathBuf>,
    /// The network name, if a new charter is created.
    pub network: String,
    /// Join an existing network: this genesis charter file is copied unchanged (this member
    /// is not added to it; the members admit it by an amendment).
    pub join: Option<PathBuf>,
    /// The genesis hash the joined charter must have (handed over with it out of band).
    pub genesis: Option<String>,
    /// Replace existing keys and config.
    pub force: bool,
}

/// What `rix init` did (`--json` prints this).
#[derive(Debug, Clone, Serialize)]
pub struct InitOutcome {
    /// The member code (absent for an observer).
    pub member: Option<String>,
    /// The member's signing public key, hex (absent for an observer).
    pub public_key: Option<String>,
    /// The node's peer id.
    pub peer_id: String,
    /// The config file written.
    pub config: PathBuf,
    /// The charter file updated.
    pub charter: PathBuf,
    /// The network name.
    pub network: String,
    /// The charter's genesis hash.
    pub genesis: String,
    /// Whether the node joins an existing network (not yet admitted).
    pub joining: bool,
    /// The addresses other nodes can dial this one at (for the admission proposal).
    pub addresses: Vec<String>,
}

/// Creates the node directory.
pub fn init_node(options: &InitOptions) -> Result<InitOutcome, NodeError> {
    let dir = std::path::absolute(&options.dir).map_err(|source| io("resolving --dir", source))?;
    std::fs::create_dir_all(&dir).map_err(|source| io(&format!("creating {}", dir.display()), source))?;
    let config_path = dir.join("config.toml");
    if config_path.exists() && !options.force {
        return Err(NodeError::Key(KeyError::Exists(config_path)));
    }
    let charter_path =
        options.charter.clone().map_or_else(|| dir.join("charter.toml"), |c| std::path::absolute(&c).unwrap_or(c));
    if let Some(join) = &options.join {
        // Checked before anything is written: the genesis is the network's identity.
        let genesis = Charter::load(join)?;
        let hash = genesis.genesis_hash().to_string();
        if let Some(expected) = options.genesis.as_ref().filter(|g| !g.eq_ignore_ascii_case(&hash)) {
            return Err(NodeError::GenesisMismatch { file: join.clone(), expected: expected.clone(), found: hash });
        }
        if options.member.as_ref().is_some_and(|m| genesis.member(m).is_some()) {
            return Err(NodeError::Reference(format!(
                "{} is already a member in {}: run `rix init --charter` with that file instead of --join",
                options.member.as_ref().expect("checked"),
                join.display()
            )));
        }
    }

    let signing_path = dir.join("keys/signing.key");
    if options.member.is_some() && signing_path.exists() && !options.force {
        return Err(NodeError::Key(KeyError::Exists(signing_path)));
    }
    let identity = NodeIdentity::create(&dir.join("keys/node.key"), options.force)?;
    std::fs::create_dir_all(dir.join("data")).map_err(|source| io("creating the data directory", source))?;

    let mut text = config_template(options.member.as_ref(), &options.listen, &options.api);
    if options.charter.is_some() {
        text =
            text.replace("charter = \"charter.toml\"", &format!("charter = {:?}", charter_path.display().to_string()));
    }
    std::fs::write(&config_path, text).map_err(|source| io(&format!("writing {}", config_path.display()), source))?;
    NodeConfig::load(&config_path)?;

    let addresses: Vec<String> = options
        .listen
        .iter()
        .filter(|a| !is_unspecified(a))
        .map(|a| format!("{a}/p2p/{}", identity.peer_id()))
        .collect();
    if let Some(join) = &options.join {
        // The genesis exactly as handed over: its bytes may differ in layout, not in content.
        std::fs::copy(join, &charter_path)
            .map_err(|source| io(&format!("copying {} to {}", join.display(), charter_path.display()), source))?;
    }
    let mut charter =
        if charter_path.exists() { Charter::load(&charter_path)? } else { Charter::new(&options.network) };
    let mut public_key = None;
    if let (Some(_), Some(_)) = (&options.member, &options.join) {
        let key = MemberKey::generate()?;
        key.save(&signing_path, options.force)?;
        SigningJournal::new(dir.join("keys/last-signed.rix")).create_fresh()?;
        public_key = Some(key.author_key().to_string());
    } else if let Some(member) = &options.member {
        let key = MemberKey::generate()?;
        key.save(&signing_path, options.force)?;
        SigningJournal::new(dir.join("keys/last-signed.rix")).create_fresh()?;
        charter.upsert_member(CharterMember {
            code: member.clone(),
            name: options.name.clone().unwrap_or_else(|| member.to_string()),
            public_key: key.author_key(),
            peer_id: identity.peer_id().to_string(),
            addresses: addresses.clone(),
        });
        charter.save(&charter_path)?;
        public_key = Some(key.author_key().to_string());
    } else if !charter_path.exists() {
        // An observer joins an existing network; its charter comes from the members.
        charter.save(&charter_path)?;
    }
    Ok(InitOutcome {
        member: options.member.as_ref().map(ToString::to_string),
        public_key,
        peer_id: identity.peer_id().to_string(),
        config: config_path,
        charter: charter_path,
        genesis: charter.genesis_hash().to_string(),
        network: charter.network,
        joining: options.join.is_some(),
        addresses,
    })
}

/// Whether a listen address binds all interfaces (and so cannot be dialled as written).
fn is_unspecified(addr: &str) -> bool {
    addr.starts_with("/ip4/0.0.0.0/") || addr.starts_with("/ip6/::/")
}

fn io(context: &str, source: std::io::Error) -> NodeError {
    NodeError::Io { context: context.to_owned(), source }
}
