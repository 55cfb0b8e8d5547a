//! A seeded simulator of the charter chain: a history of membership operations (admissions,
//! removals, key rotations, threshold changes), with competing amendments, amendments that
//! never reach their threshold, amendments that do not apply, and approvals that must not
//! count (non-members, removed members, rotated-out keys, duplicates), delivered to several
//! nodes each in its own order, with duplicates and withheld items that arrive last (a
//! partition that heals). [`run`] checks that every node ends on the same chain, the one the
//! whole set gives, that every version it ever showed had its threshold, and that every
//! operation took effect.

use std::collections::{BTreeMap, BTreeSet};

use super::{Amendment, Approval, Chain, ChainTypes, Change, Roster, State, Threshold, Version};
use crate::Rng;

/// Small integers for members, keys and ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SimTypes;

impl ChainTypes for SimTypes {
    type Member = u32;
    type Key = u64;
    type Id = u64;
}

/// The simulator's chain state.
pub type SimState = Roster<SimTypes>;

/// One item a node can receive.
#[derive(Debug, Clone)]
pub enum Item {
    /// An amendment.
    Amendment(Amendment<SimState>),
    /// A verified approval.
    Approval(Approval<SimState>),
}

/// A generated history.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The genesis hash.
    pub genesis: u64,
    /// The genesis roster.
    pub roster: Roster<SimTypes>,
    /// Every amendment and approval, in the order they were made.
    pub items: Vec<Item>,
    /// The membership operations that took effect (the chain must have this many versions
    /// after the genesis).
    pub operations: usize,
}

/// What one run found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Delivery orders checked (nodes × seeds).
    pub orders: usize,
    /// Items delivered, duplicates included.
    pub deliveries: usize,
    /// Versions the nodes showed at their checkpoints, every one checked against its threshold.
    pub versions_checked: usize,
    /// Competing amendments settled by the tie-break.
    pub ties: usize,
    /// What went wrong, empty if nothing.
    pub failures: Vec<String>,
}

/// A history of `operations` membership operations.
pub fn scenario(seed: u64, operations: usize) -> (Scenario, usize) {
    let mut rng = Rng::seeded(seed);
    let mut fresh = || rng.next_u64() | 1;
    let genesis = fresh();
    let members: BTreeMap<u32, u64> = (0..9).map(|m| (m, 1_000 + u64::from(m))).collect();
    let roster = Roster::<SimTypes> { members, threshold: Threshold::Majority };
    let mut rng = Rng::seeded(seed ^ 0x5EED);
    let mut items = Vec::new();
    let (mut current_id, mut current) = (genesis, roster.clone());
    let mut next_member = 100u32;
    let mut next_key = 10_000u64;
    // Keys and members that once were valid: their approvals must count for nothing later.
    let mut retired: Vec<(u32, u64)> = Vec::new();
    let mut ties = 0;
    let id = |rng: &mut Rng| rng.next_u64() | 1;
    for _ in 0..operations {
        let changes = applicable_changes(&mut rng, &current, &mut next_member, &mut next_key);
        let main = Amendment { id: id(&mut rng), amends: current_id, changes };
        approve(&mut rng, &current, &main, current.needed(), &mut items);
        let mut winner = main.clone();
        items.push(Item::Amendment(main));
        // A competing amendment of the same version, approved too (some members approve both).
        if rng.chance(0.2) {
            let changes = applicable_changes(&mut rng, &current, &mut next_member, &mut next_key);
            let rival = Amendment { id: id(&mut rng), amends: current_id, changes };
            approve(&mut rng, &current, &rival, current.needed(), &mut items);
            if rival.id < winner.id {
                winner = rival.clone();
            }
            items.push(Item::Amendment(rival));
            ties += 1;
        }
        // One short of its threshold, made of every kind of approval that must not count.
        if rng.chance(0.3) {
            let changes = random_changes(&mut rng, &current, &mut next_member, &mut next_key);
            if current.apply(&changes).is_ok() {
                let short = Amendment { id: id(&mut rng), amends: current_id, changes };
                approve(&mut rng, &current, &short, current.needed() - 1, &mut items);
                for &(member, key) in retired.iter().rev().take(4) {
                    items.push(Item::Approval(Approval { amendment: short.id, member, key }));
                }
                items.push(Item::Approval(Approval { amendment: short.id, member: 9_999, key: 9_999 }));
                items.push(Item::Amendment(short));
            }
        }
        // Changes that do not apply, approved by everyone: never effective.
        if rng.chance(0.2) {
            let bad =
                Amendment { id: id(&mut rng), amends: current_id, changes: vec![Change::Remove { member: 77_777 }] };
            approve(&mut rng, &current, &bad, current.members.len(), &mut items);
            items.push(Item::Amendment(bad));
        }
        let next = current.apply(&winner.changes).expect("checked above");
        for (member, key) in &current.members {
            if next.members.get(member) != Some(key) {
                retired.push((*member, *key));
            }
        }
        current = next;
        current_id = winner.id;
    }
    (Scenario { genesis, roster, items, operations }, ties)
}

/// Approvals of `amendment` by `count` distinct current members (and a few duplicates).
fn approve(
    rng: &mut Rng,
    roster: &Roster<SimTypes>,
    amendment: &Amendment<SimState>,
    count: usize,
    items: &mut Vec<Item>,
) {
    let mut members: Vec<(u32, u64)> = roster.members.iter().map(|(m, k)| (*m, *k)).collect();
    shuffle(rng, &mut members);
    for &(member, key) in members.iter().take(count) {
        items.push(Item::Approval(Approval { amendment: amendment.id, member, key }));
        if rng.chance(0.1) {
            items.push(Item::Approval(Approval { amendment: amendment.id, member, key }));
        }
    }
}

/// Random changes that apply to `roster`.
fn applicable_changes(
    rng: &mut Rng,
    roster: &Roster<SimTypes>,
    next_member: &mut u32,
    next_key: &mut u64,
) -> Vec<Change<SimTypes>> {
    loop {
        let changes = random_changes(rng, roster, next_member, next_key);
        if roster.apply(&changes).is_ok() {
            return changes;
        }
    }
}

fn random_changes(
    rng: &mut Rng,
    roster: &Roster<SimTypes>,
    next_member: &mut u32,
    next_key: &mut u64,
) -> Vec<Change<SimTypes>> {
    let members: Vec<u32> = roster.members.keys().copied().collect();
    let pick = |rng: &mut Rng| members[rng.range(0, members.len() as u64 - 1) as usize];
    (0..rng.range(1, 3))
        .map(|_| match rng.range(0, 9) {
            // Between 5 and 13 members: admissions and removals balance.
            0..=2 if members.len() < 13 => {
                *next_member += 1;
                *next_key += 1;
                Change::Admit { member: *next_member, key: *next_key }
            }
            0..=4 if members.len() > 5 => Change::Remove { member: pick(rng) },
            5..=7 => {
                *next_key += 1;
                Change::RotateKey { member: pick(rng), key: *next_key }
            }
            8 => Change::SetThreshold(Threshold::Fixed(rng.range(1, members.len() as u64) as usize)),
            _ => Change::SetThreshold(Threshold::Majority),
        })
        .collect()
}

fn shuffle<X>(rng: &mut Rng, items: &mut [X]) {
    for i in (1..items.len()).rev() {
        let j = rng.range(0, i as u64) as usize;
        items.swap(i, j);
    }
}

fn insert(chain: &mut Chain<SimState>, item: &Item) {
    match item {
        Item::Amendment(a) => chain.add_amendment(a.clone()),
        Item::Approval(a) => chain.add_approval(a.clone()),
    };
}

/// Checks a chain of versions against the approvals delivered so far, counted here
/// independently of [`Chain::counted`]: distinct members of the amended version, each with the
/// key that version gives it.
fn check_thresholds(versions: &[Version<SimState>], delivered: &BTreeSet<(u64, u32, u64)>) -> Result<(), String> {
    for pair in versions.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let counted = before.state.members.iter().filter(|(m, k)| delivered.contains(&(after.id, **m, **k))).count();
        if counted < before.state.needed() {
            return Err(format!(
                "version {} took effect with {counted} approvals, {} needed",
                after.number,
                before.state.needed()
            ));
        }
    }
    Ok(())
}

/// Delivers one scenario to `nodes` nodes, each in its own order, and checks them.
pub fn run(seed: u64, operations: usize, nodes: usize) -> Report {
    let (scenario, ties) = scenario(seed, operations);
    let mut reference = Chain::new(scenario.genesis, scenario.roster.clone());
    for item in &scenario.items {
        insert(&mut reference, item);
    }
    let expected = reference.versions();
    let mut report = Report { ties, ..Report::default() };
    if expected.len() != operations + 1 {
        report.failures.push(format!(
            "seed {seed}: the whole set gives {} versions, {} operations were made",
            expected.len(),
            operations + 1
        ));
    }
    let mut rng = Rng::seeded(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for node in 0..nodes {
        let mut order: Vec<&Item> = scenario.items.iter().collect();
        if node % 2 == 0 {
            // Any order at all.
            shuffle(&mut rng, &mut order);
        } else {
            // Roughly the order they were made in, each item moved up to 64 places: the chain
            // grows while items arrive, so the checkpoints see long chains.
            let mut keyed: Vec<(u64, &Item)> =
                order.into_iter().enumerate().map(|(i, item)| (i as u64 + rng.range(0, 64), item)).collect();
            keyed.sort_by_key(|(k, _)| *k);
            order = keyed.into_iter().map(|(_, item)| item).collect();
        }
        // Duplicates, and a withheld fifth that arrives after everything else.
        let duplicates: Vec<&Item> = order.iter().filter(|_| rng.chance(0.05)).copied().collect();
        order.extend(duplicates);
        let (mut now, mut later): (Vec<&Item>, Vec<&Item>) = order.into_iter().partition(|_| !rng.chance(0.2));
        now.append(&mut later);
        let mut chain = Chain::new(scenario.genesis, scenario.roster.clone());
        let mut delivered = BTreeSet::new();
        let checkpoints = now.len() / 8 + 1;
        for (i, item) in now.iter().enumerate() {
            insert(&mut chain, item);
            if let Item::Approval(a) = item {
                delivered.insert((a.amendment, a.member, a.key));
            }
            if i % checkpoints == checkpoints - 1 {
                let versions = chain.versions();
                report.versions_checked += versions.len();
                if let Err(e) = check_thresholds(&versions, &delivered) {
                    report.failures.push(format!("seed {seed}, node {node}, after {} items: {e}", i + 1));
                }
            }
        }
        report.orders += 1;
        report.deliveries += now.len();
        let versions = chain.versions();
        report.versions_checked += versions.len();
        if let Err(e) = check_thresholds(&versions, &delivered) {
            report.failures.push(format!("seed {seed}, node {node}, at the end: {e}"));
        }
        if versions != expected {
            let at =
                versions.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(versions.len().min(expected.len()));
            report.failures.push(format!(
                "seed {seed}, node {node}: diverged at version {} ({} versions against {})",
                at + 1,
                versions.len(),
                expected.len()
            ));
        }
    }
    report
}
