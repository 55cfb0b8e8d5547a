//! The command line: every command, flag and its help text (clap derive; doc comments are
//! the help). `docs/cli.md` describes the same surface for readers and scripts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rix_api::record::{KeyFactor, Kind, MemberCode};

/// rix: the Regional Integrity eXchange.
///
/// Customs administrations publish signed integrity records (best practices, strategies, case
/// studies, action plans, codes of conduct, events, self-assessments); every node keeps a full
/// replica and gossips records to the others. Analysts query their local replica.
///
/// Start with `rix devnet` to see a local nine-member network, or `rix init` to set up a node.
#[derive(Debug, Parser)]
#[command(name = "rix", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Node config file [default: ./config.toml].
    #[arg(long, global = true, env = "RIX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (repeat for more); logs go to stderr. RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node: config, signing key (mode 0600), node identity, data directory, and this
    /// member's entry in a charter.
    Init(InitArgs),
    /// Sign record files as this node's member and store them (gossiped at once if the daemon
    /// runs, else on its next start).
    Publish(PublishArgs),
    /// Publish a signed withdrawal of one of this member's records.
    Withdraw(WithdrawArgs),
    /// List records, newest first: current versions, withdrawn ones hidden.
    List(ListArgs),
    /// Show one record in full (a unique id prefix is enough).
    Show(ShowArgs),
    /// Full-text search: words, "exact phrases" and prefix* terms, ranked by relevance, in any
    /// language (English and Russian are stemmed; Chinese and Japanese need no spaces).
    Search(SearchArgs),
    /// Every version of a record, oldest first (a unique id prefix of any version is enough).
    History(ShowArgs),
    /// Records per member and key factor, by kind and year, newest per member, coverage gaps.
    Stats,
    /// Export records as json, jsonl, csv, md or signed (the exact signed bytes).
    Export(ExportArgs),
    /// Import a `signed` export: verify every record, store the valid ones, report the rest.
    Import(ImportArgs),
    /// Re-verify every stored record against the charter; exit 1 if any fails.
    Verify,
    /// Rebuild the search index from the replica (it is derived data; the replica is the truth).
    Reindex,
    /// Write a record template of KIND, every field commented, to fill in and publish.
    New(NewArgs),
    /// Node state: member, peer id, addresses, peers, records held per member.
    Status,
    /// Connected peers: member code, address, last sync (needs the running daemon).
    Peers,
    /// Print a link that opens the analysts' web view of this node in a browser, signed in
    /// (needs the running daemon, which serves the pages on its API address).
    ///
    /// The link carries a one-time token: it signs one browser in, then is worth nothing. It
    /// expires after 10 minutes if unused. The session lasts until 12 hours without use or the
    /// daemon's restart.
    Web(WebArgs),
    /// Inspect or edit the charter (the network's members and observers).
    #[command(subcommand)]
    Charter(CharterCommand),
    /// This member's signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Run the node in the foreground until SIGINT/SIGTERM: gossip, sync, local API.
    Daemon,
    /// Run a local network on 127.0.0.1 (default: the nine Almaty signatories), publish the
    /// sample records from their authors, and show them spreading until Ctrl-C.
    Devnet(DevnetArgs),
}

/// `rix devnet`
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Number of nodes: the first N of AZ CN JP KZ KG MN RU TJ UZ, then M10, M11, ...
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub nodes: u16,
    /// Directory for the nodes (wiped and recreated if it is a previous devnet)
    /// [default: a rix-devnet folder in the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// First libp2p port; node i listens on P+i and serves its API on P+100+i.
    #[arg(long, value_name = "P", default_value_t = 4700)]
    pub base_port: u16,
    /// Do not publish the sample records.
    #[arg(long)]
    pub no_samples: bool,
    /// Do not show a charter change (by default, once the samples are out, the first node
    /// proposes admitting a new member and a majority approves it, node by node).
    #[arg(long)]
    pub no_charter_change: bool,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

/// `rix init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Node directory to create.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// This node's member code (e.g. KZ).
    #[arg(long, value_name = "CODE", required_unless_present = "observer")]
    pub member: Option<MemberCode>,
    /// Create an observer node instead: it replicates and can be queried but never authors.
    /// Members admit its peer id with `rix charter add-observer`.
    #[arg(long, conflicts_with = "member")]
    pub observer: bool,
    /// The administration's name, for the charter.
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Listen multiaddress (repeatable).
    #[arg(long, value_name = "MULTIADDR", default_value = "/ip4/0.0.0.0/tcp/4001")]
    pub listen: Vec<String>,
    /// Local API address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7401")]
    pub api: String,
    /// Charter file to add (or update) this member in; created if missing [default: DIR/charter.toml].
    #[arg(long, value_name = "FILE")]
    pub charter: Option<PathBuf>,
    /// Network name when a new charter is created.
    #[arg(long, value_name = "NAME", default_value = rix_node::init::DEFAULT_NETWORK)]
    pub network: String,
    /// Join an existing network: copy this genesis charter (handed over by a member, with its
    /// hash) unchanged, without adding this member; print the admission to ask a member to
    /// propose. The node catches up the amendments and the history from any member.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["charter", "network"])]
    pub join: Option<PathBuf>,
    /// The genesis hash the joined charter must have (`rix charter show` on a member's node).
    #[arg(long, value_name = "HEX", requires = "join")]
    pub genesis: Option<String>,
    /// Replace an existing config and keys. The member gets a new identity.
    #[arg(long)]
    pub force: bool,
}

/// `rix publish`
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Record files: Markdown with TOML front matter between `+++` lines, or JSON.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Validate and show what would be signed; sign and store nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `rix withdraw`
#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// The record to withdraw (id or unique prefix); it must be this member's.
    pub id: String,
    /// Why it is withdrawn.
    #[arg(long)]
    pub reason: String,
}

/// Filters shared by `list` and `export`.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<Kind>,
    /// Only this author.
    #[arg(long, value_name = "CODE")]
    pub member: Option<MemberCode>,
    /// Only records with this key factor.
    #[arg(long, value_name = "FACTOR")]
    pub factor: Option<KeyFactor>,
    /// Only records created on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only records in this language (`zh` also matches `zh-Hans`).
    #[arg(long, value_name = "TAG")]
    pub language: Option<String>,
    /// At most N records.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Include superseded versions.
    #[arg(long)]
    pub all_versions: bool,
    /// Include withdrawn records.
    #[arg(long)]
    pub include_withdrawn: bool,
    /// Include the withdrawal records themselves (kind `withdrawal`, the reason as summary, the
    /// record withdrawn in `withdraws`). Not with --kind, --factor or --language, which they lack.
    #[arg(long, conflicts_with_all = ["kind", "factor", "language"])]
    pub withdrawals: bool,
}

/// `rix list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `rix search`
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query: words (all must match), "an exact phrase", prefix* terms.
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// Filters (`--limit` defaults to 20).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `rix new`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// best-practice, integrity-strategy, case-study, action-plan, code-of-conduct, event or
    /// self-assessment.
    pub kind: Kind,
    /// Write to FILE (refuses to overwrite) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `rix show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Record id or unique prefix.
    pub id: String,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// `{"records": [...]}` with bodies.
    Json,
    /// One record per line.
    Jsonl,
    /// One row per record; list fields joined with "; ".
    Csv,
    /// A Markdown report grouped by key factor.
    Md,
    /// A single self-contained HTML report grouped by key factor, with a table of contents.
    Html,
    /// Every stored record's exact signed bytes (see docs/record-format.md); re-importable.
    Signed,
}

/// `rix export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Start CSV with a UTF-8 byte order mark (for spreadsheet programs).
    #[arg(long)]
    pub bom: bool,
    /// Filters (not for `signed`, which exports everything).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `rix web`
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Also open the link in the default browser (xdg-open, or open on macOS).
    #[arg(long)]
    pub open: bool,
}

/// `rix import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file written by `rix export --format signed`.
    pub file: PathBuf,
}

/// `rix charter ...`
#[derive(Debug, Subcommand)]
pub enum CharterCommand {
    /// The current charter version (or `--version N`): members, observers, threshold.
    ///
    /// The charter is replicated data: version 1 is the genesis (`charter.toml`), each later
    /// version comes from an amendment approved by a threshold of members.
    #[command(disable_version_flag = true)]
    Show {
        /// Show this charter file as a genesis instead of the node's chain.
        #[arg(long, value_name = "FILE", conflicts_with = "at_version")]
        charter: Option<PathBuf>,
        /// Show this version instead of the current one.
        #[arg(long = "version", id = "at_version", value_name = "N")]
        at_version: Option<u64>,
    },
    /// Propose an amendment of the current version, signed as this node's member (which is
    /// also its first approval).
    ///
    /// Each change is checked against the current version before anything is signed. The
    /// proposal travels to the other members like a record (gossip, then sync).
    #[command(subcommand)]
    Propose(ProposeCommand),
    /// The open proposals of the current version: who approved, how many more are needed.
    Pending,
    /// Approve a proposal of the current version as this node's member.
    Approve {
        /// The proposal's id, or a unique prefix of it.
        proposal: String,
    },
    /// Every version: its changes, who approved it and when it took effect.
    Log,
    /// Admit a read-only replica: a proposal of `add-observer` (or, with `--charter`, an edit
    /// of a charter file that is not yet any network's genesis).
    AddObserver {
        /// Edit this charter file instead of proposing.
        #[arg(long, value_name = "FILE")]
        charter: Option<PathBuf>,
        /// The observer node's peer id.
        #[arg(long, value_name = "ID")]
        peer_id: String,
        /// Who runs it.
        #[arg(long, value_name = "TEXT")]
        name: String,
        /// Where it can be dialled (repeatable; optional).
        #[arg(long, value_name = "MULTIADDR")]
        address: Vec<String>,
    },
}

/// `rix key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// A new signing key for this node's member, proposed as `rotate-key` with its proof of
    /// possession. The old key stays in use until the rotation takes effect; then the node
    /// signs with the new one (kept until then in the signing key file's `.next` sibling).
    ///
    /// If this member cannot propose (its key is revoked), prints the new key and its proof
    /// for another member to propose with `rix charter propose rotate-key`.
    Rotate,
}

/// `rix charter propose ...`
#[derive(Debug, Subcommand)]
pub enum ProposeCommand {
    /// Admit a new member.
    Admit {
        /// Its code (two capital letters, like TJ).
        #[arg(long, value_name = "C")]
        code: String,
        /// The administration's name.
        #[arg(long, value_name = "TEXT")]
        name: String,
        /// Its record-signing public key (`rix init` prints it), 64 hex digits.
        #[arg(long, value_name = "HEX")]
        public_key: String,
        /// Its node's peer id (`rix init` prints it).
        #[arg(long, value_name = "ID")]
        peer_id: String,
        /// Where its node listens (repeatable).
        #[arg(long, value_name = "MULTIADDR")]
        address: Vec<String>,
    },
    /// Remove a member. Its records up to the newest this node holds stay valid; later ones
    /// are refused.
    Remove {
        /// Its code.
        #[arg(long, value_name = "C")]
        member: String,
    },
    /// Revoke a member's current signing key (a stolen key): its records up to `--after-seq`
    /// stay valid, later ones are refused everywhere, also on nodes that already hold them
    /// (taken out of listings, search and exports, kept as evidence). The member can neither
    /// sign nor approve until a new key is installed.
    RevokeKey {
        /// Its code.
        #[arg(long, value_name = "C")]
        member: String,
        /// The member's last record that stays valid (0: none). This node must hold it: its id
        /// becomes part of the cut-off.
        #[arg(long, value_name = "N")]
        after_seq: u64,
    },
    /// Install a new signing key for a member, made and proven by its holder (`rix key rotate`
    /// prints both when the member cannot propose itself). Its records before the first one
    /// signed with the new key stay valid.
    RotateKey {
        /// Its code.
        #[arg(long, value_name = "C")]
        member: String,
        /// The new public key, 64 hex digits.
        #[arg(long, value_name = "HEX")]
        public_key: String,
        /// The new key's proof of possession for the current version, 128 hex digits. Not
        /// needed for this node's own member when the key is the one `rix key rotate` made
        /// (the node computes it).
        #[arg(long, value_name = "HEX")]
        proof: Option<String>,
    },
    /// Change a member's node: its peer id and addresses.
    SetNode {
        /// Its code.
        #[arg(long, value_name = "C")]
        member: String,
        /// The node's peer id.
        #[arg(long, value_name = "ID")]
        peer_id: String,
        /// Where it listens (repeatable).
        #[arg(long, value_name = "MULTIADDR")]
        address: Vec<String>,
    },
    /// Admit a read-only replica.
    AddObserver {
        /// Its peer id.
        #[arg(long, value_name = "ID")]
        peer_id: String,
        /// Who runs it.
        #[arg(long, value_name = "TEXT")]
        name: String,
        /// Where it can be dialled (repeatable; optional).
        #[arg(long, value_name = "MULTIADDR")]
        address: Vec<String>,
    },
    /// Remove an observer.
    RemoveObserver {
        /// Its peer id.
        #[arg(long, value_name = "ID")]
        peer_id: String,
    },
    /// How many members must approve an amendment: a number, or `majority`.
    SetThreshold {
        /// A number from 1 to the number of members, or `majority`.
        #[arg(value_name = "K")]
        threshold: String,
    },
}
