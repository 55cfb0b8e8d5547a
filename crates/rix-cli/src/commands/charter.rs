//! `rix charter`: show a version, propose, approve, list pending proposals, the log.

use anyhow::{Context as _, Result, bail};
use rix_api::charter::{CharterView, ProposalView};
use rix_api::record::amendment::{Change, ThresholdRule};
use rix_api::record::{Charter, Observer};
use rix_node::charter::CharterChain;

use super::Context;
use crate::cli::{CharterCommand, KeyCommand, ProposeCommand};
use crate::render::Table;

pub fn run(ctx: &Context, command: &CharterCommand) -> Result<()> {
    match command {
        CharterCommand::Show { charter: Some(path), .. } => {
            let genesis = Charter::load(path)?;
            let view = CharterChain::of_genesis(&genesis).view(None)?;
            print_charter(ctx, &view)
        }
        CharterCommand::Show { charter: None, at_version } => print_charter(ctx, &ctx.backend()?.charter(*at_version)?),
        CharterCommand::Propose(propose) => {
            let backend = ctx.backend()?;
            let change = change_of(ctx, propose, backend.as_ref())?;
            let view = backend.charter_propose(vec![change])?;
            print_proposal(ctx, &view, "proposed")
        }
        CharterCommand::Approve { proposal } => {
            let view = ctx.backend()?.charter_approve(proposal)?;
            print_proposal(ctx, &view, "approved")
        }
        CharterCommand::Pending => {
            let pending = ctx.backend()?.charter_pending()?;
            if ctx.json {
                return ctx.print_json(&pending);
            }
            if pending.proposals.is_empty() {
                outln!("no open proposal of charter version {}", pending.version);
            }
            for p in &pending.proposals {
                describe_proposal(p)?;
                outln!();
            }
            Ok(())
        }
        CharterCommand::Log => {
            let log = ctx.backend()?.charter_log()?;
            if ctx.json {
                return ctx.print_json(&log);
            }
            for v in &log.versions {
                match &v.proposer {
                    None => outln!("version {}  {}  genesis", v.version, v.hash),
                    Some(proposer) => outln!(
                        "version {}  {}  proposed by {proposer}, approved by {}{}",
                        v.version,
                        v.hash,
                        codes(&v.approved_by),
                        v.effective_at.map(|t| format!(", in effect since {t}")).unwrap_or_default()
                    ),
                }
                for c in &v.changes {
                    outln!("    {}", rix_api::describe_change(c));
                }
            }
            Ok(())
        }
        CharterCommand::AddObserver { charter: Some(path), peer_id, name, address } => {
            let mut c = Charter::load(path)?;
            if c.member_by_peer(peer_id).is_some() {
                bail!("{peer_id} is a member's node already");
            }
            c.upsert_observer(Observer { name: name.clone(), peer_id: peer_id.clone(), addresses: address.clone() });
            c.save(path).with_context(|| format!("saving {}", path.display()))?;
            if ctx.json {
                return ctx.print_json(&c);
            }
            outln!("{name} ({peer_id}) is now an observer in {}; copy the charter to every node.", path.display());
            Ok(())
        }
        CharterCommand::AddObserver { charter: None, peer_id, name, address } => {
            let change =
                Change::AddObserver { peer_id: peer_id.clone(), name: name.clone(), addresses: address.clone() };
            let view = ctx.backend()?.charter_propose(vec![change])?;
            print_proposal(ctx, &view, "proposed")
        }
    }
}

/// The proof of possession of `key` for this node's own member, from the key `rix key rotate`
/// left in the signing key file's `.next` sibling.
fn own_proof(
    ctx: &Context,
    backend: &dyn rix_api::Backend,
    code: &rix_api::record::MemberCode,
    key: &rix_api::record::keys::AuthorKey,
) -> Result<String> {
    let config = ctx.load_config()?;
    let next_path = rix_node::publish::next_key_path(&config.config.keys.signing);
    let next = (config.config.member.as_ref() == Some(code) && next_path.exists())
        .then(|| rix_api::record::MemberKey::load(&next_path))
        .transpose()?
        .filter(|next| next.author_key() == *key);
    let Some(next) = next else {
        bail!(
            "a rotation needs the new key's proof of possession: run `rix key rotate` on {code}'s node, which makes the key and prints its proof, and pass it with --proof"
        );
    };
    Ok(rix_api::record::amendment::key_proof(&next, &backend.charter(None)?.hash, code))
}

/// `rix key rotate`.
pub fn key(ctx: &Context, command: &KeyCommand) -> Result<()> {
    let KeyCommand::Rotate = command;
    let config = ctx.load_config()?;
    let member = config
        .config
        .member
        .clone()
        .ok_or_else(|| anyhow::anyhow!("this node is an observer: it has no signing key"))?;
    let next_path = rix_node::publish::next_key_path(&config.config.keys.signing);
    // A key made by an earlier `rix key rotate` is proposed again rather than replaced: a
    // proposal may already name it.
    let next = if next_path.exists() {
        rix_api::record::MemberKey::load(&next_path)?
    } else {
        let key = rix_api::record::MemberKey::generate()?;
        key.save(&next_path, false)?;
        key
    };
    let backend = ctx.backend()?;
    let current = backend.charter(None)?;
    let code = member.clone();
    let proof = rix_api::record::amendment::key_proof(&next, &current.hash, &code);
    let public_key = next.author_key();
    let revoked = current.members.iter().any(|m| m.code == member && m.key_revoked);
    if revoked {
        let out = serde_json::json!({
            "member": member, "public_key": public_key.to_string(), "proof": proof,
            "amends_version": current.version, "amends": current.hash, "proposal": null,
        });
        if ctx.json {
            return ctx.print_json(&out);
        }
        outln!("{member}'s key is revoked, so this node cannot propose. Ask another member to run:\n");
        outln!("  rix charter propose rotate-key --member {member} --public-key {public_key} --proof {proof}\n");
        outln!(
            "(the proof is for charter version {}; if another version takes effect first, run `rix key rotate` again)",
            current.version
        );
        return Ok(());
    }
    let change = Change::RotateKey { code, public_key, proof };
    let view = backend.charter_propose(vec![change])?;
    print_proposal(ctx, &view, "proposed")?;
    ctx.note(format!(
        "the new key waits in {}; the node signs with it once the rotation takes effect",
        next_path.display()
    ));
    Ok(())
}

/// The change a `propose` subcommand asks for. Codes and keys are parsed here so that a typo
/// is an error naming the argument; the rules of the current version are the node's check.
fn change_of(ctx: &Context, command: &ProposeCommand, backend: &dyn rix_api::Backend) -> Result<Change> {
    let code = |c: &str| c.parse().map_err(|e| anyhow::anyhow!("--code/--member {c:?}: {e}"));
    Ok(match command {
        ProposeCommand::Admit { code: c, name, public_key, peer_id, address } => Change::Admit {
            code: code(c)?,
            name: name.clone(),
            public_key: public_key.parse().map_err(|e| anyhow::anyhow!("--public-key {public_key:?}: {e}"))?,
            peer_id: peer_id.clone(),
            addresses: address.clone(),
            proof: None,
        },
        // The node fills the cut-off from the newest record of the member it holds.
        ProposeCommand::Remove { member } => Change::Remove { code: code(member)?, after_seq: 0, last_id: None },
        // The key revoked is the member's current one, as the node's charter says; the node
        // fills the cut-off's id from its replica.
        ProposeCommand::RevokeKey { member, after_seq } => {
            let code = code(member)?;
            let current = backend.charter(None)?;
            let held = current.members.iter().find(|m| m.code == code);
            let key = held.ok_or_else(|| anyhow::anyhow!("{code} is not a member"))?.public_key.parse();
            let public_key = key.map_err(|e| anyhow::anyhow!("the charter's key of {code}: {e}"))?;
            Change::RevokeKey { code, public_key, after_seq: *after_seq, last_id: None }
        }
        ProposeCommand::RotateKey { member, public_key, proof } => {
            let code = code(member)?;
            let key: rix_api::record::keys::AuthorKey =
                public_key.parse().map_err(|e| anyhow::anyhow!("--public-key {public_key:?}: {e}"))?;
            let proof = match proof {
                Some(proof) => proof.clone(),
                None => own_proof(ctx, backend, &code, &key)?,
            };
            Change::RotateKey { code, public_key: key, proof }
        }
        ProposeCommand::SetNode { member, peer_id, address } => {
            Change::SetNode { code: code(member)?, peer_id: peer_id.clone(), addresses: address.clone() }
        }
        ProposeCommand::AddObserver { peer_id, name, address } => {
            Change::AddObserver { peer_id: peer_id.clone(), name: name.clone(), addresses: address.clone() }
        }
        ProposeCommand::RemoveObserver { peer_id } => Change::RemoveObserver { peer_id: peer_id.clone() },
        ProposeCommand::SetThreshold { threshold } => Change::SetThreshold {
            threshold: match threshold.as_str() {
                "majority" => ThresholdRule::Majority,
                k => ThresholdRule::Fixed {
                    count: k.parse().map_err(|_| anyhow::anyhow!("threshold {k:?}: give a number or `majority`"))?,
                },
            },
        },
    })
}

fn codes(codes: &[rix_api::record::MemberCode]) -> String {
    if codes.is_empty() {
        return "nobody".into();
    }
    codes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

fn describe_proposal(p: &ProposalView) -> Result<()> {
    outln!("proposal {}", p.proposal);
    outln!("  amends    version {} (proposed by {} at {})", p.amends_version, p.proposer, p.created_at);
    for c in &p.changes {
        outln!("  change    {}", rix_api::describe_change(c));
    }
    outln!("  approved  {} ({} of {} needed)", codes(&p.approvals), p.approvals.len(), p.needed);
    let state = match (&p.applied, &p.stale) {
        (Some(v), _) => format!("applied: it made version {v}"),
        (None, Some(why)) => format!("cannot apply: {why}"),
        (None, None) => {
            let more = (p.needed as usize).saturating_sub(p.approvals.len());
            format!(
                "pending: {more} more approval{} needed (`rix charter approve ID`)",
                if more == 1 { "" } else { "s" }
            )
        }
    };
    outln!("  status    {state}");
    Ok(())
}

fn print_proposal(ctx: &Context, view: &ProposalView, what: &str) -> Result<()> {
    if ctx.json {
        return ctx.print_json(view);
    }
    describe_proposal(view)?;
    if view.applied.is_none() && view.stale.is_none() {
        ctx.note(format!(
            "{what}; the daemon gossips it to the other members (or, if it is not running, they fetch it by sync after its next start)"
        ));
    }
    Ok(())
}

fn print_charter(ctx: &Context, c: &CharterView) -> Result<()> {
    if ctx.json {
        return ctx.print_json(c);
    }
    outln!("charter version {} of network {:?}{}", c.version, c.network, if c.current { " (current)" } else { "" });
    outln!("  hash       {}", c.hash);
    outln!("  genesis    {}", c.genesis);
    let rule = match c.threshold_rule {
        ThresholdRule::Majority => "a majority".to_owned(),
        ThresholdRule::Fixed { .. } => "fixed".to_owned(),
    };
    outln!("  threshold  {} of {} members ({rule})", c.threshold, c.members.len());
    outln!();
    let mut t = Table::new(&["CODE", "NAME", "JOINED", "PUBLIC KEY", "PEER ID", "ADDRESSES"], 1);
    for m in &c.members {
        let key =
            if m.key_revoked { format!("{} (revoked)", &m.public_key[..16]) } else { m.public_key[..16].to_owned() };
        t.row(vec![
            m.code.to_string(),
            m.name.clone(),
            format!("v{}", m.joined),
            key,
            m.peer_id.clone(),
            m.addresses.join(" "),
        ]);
    }
    for o in &c.observers {
        t.row(vec![
            "observer".into(),
            o.name.clone(),
            String::new(),
            String::new(),
            o.peer_id.clone(),
            o.addresses.join(" "),
        ]);
    }
    t.print(&mut std::io::stdout().lock())?;
    for r in &c.retired_keys {
        let cutoff = r.after_seq.map(|s| format!(", valid up to record #{s}")).unwrap_or_default();
        outln!("retired key of {}: {} ({} in version {}{cutoff})", r.code, r.public_key, r.reason, r.since_version);
    }
    Ok(())
}
