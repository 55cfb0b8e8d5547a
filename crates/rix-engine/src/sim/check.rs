//! The invariants checked once the network settles: every valid record on every honest node,
//! nothing invalid stored, no honest peer banned, every attacker that must be banned banned.

use super::*;

impl World {
    pub(super) fn check(&mut self) {
        let valid: BTreeSet<(Peer, u64, u64)> = self.published.iter().map(|r| (r.author, r.seq, r.body)).collect();
        for n in 0..self.cfg.nodes as Peer {
            let node = &self.nodes[n as usize];
            if node.engine.is_none() {
                self.report.problems.push(format!("node {n} is down at the end"));
                continue;
            }
            let held: BTreeSet<(Peer, u64, u64)> =
                node.store.values().map(|(r, _)| (r.author, r.seq, r.body)).collect();
            if let Some(bad) = node.store.values().find(|(r, _)| r.forged) {
                self.report.problems.push(format!("node {n} stored a forged record {:?}", bad.0));
            }
            let missing: Vec<_> = valid.difference(&held).collect();
            if !missing.is_empty() {
                self.report.problems.push(format!(
                    "node {n} lacks {} valid records, first {:?}",
                    missing.len(),
                    missing[0]
                ));
            }
            if !node.evidence.is_empty() {
                self.report.problems.push(format!("node {n} holds equivocation evidence, but nobody equivocated"));
            }
        }
        for (by, on) in &self.report.bans {
            if self.honest(*on) {
                self.report.problems.push(format!("honest node {by} banned honest node {on}"));
            }
        }
        for (target, hostile) in &self.must_ban {
            if !self.report.bans.contains(&(*target, *hostile)) {
                self.report.problems.push(format!("node {target} did not ban hostile peer {hostile} after its attack"));
            }
        }
    }
}
