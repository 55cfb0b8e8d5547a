//! Thousands of seeded runs of the simulator, each checking that every honest node converges
//! to every valid record, that nothing invalid is stored, and that bans hit exactly the
//! misbehaving peers. A failing seed is printed; replay it alone with
//! `RIX_SIM_SEED=<seed> cargo test -p rix-engine --test simulator -- --nocapture`.
//! `RIX_SIM_RUNS=<n>` runs more (or fewer) seeds.

use std::time::Instant;

use rix_engine::sim::{self, SimConfig};

/// The seeds of one half of the run (the two halves run in parallel): `RIX_SIM_SEED` alone,
/// or `RIX_SIM_RUNS` seeds (2,000 by default) split in two.
fn seeds(half: u64) -> Vec<u64> {
    if let Ok(seed) = std::env::var("RIX_SIM_SEED") {
        return if half == 0 { vec![seed.parse().expect("RIX_SIM_SEED is a number")] } else { Vec::new() };
    }
    let runs: u64 = std::env::var("RIX_SIM_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(2_000);
    (1..=runs).filter(|s| s % 2 == half).collect()
}

#[test]
fn seeded_scenarios_converge_store_nothing_invalid_and_ban_only_attackers() {
    scenarios(0);
}

#[test]
fn more_seeded_scenarios_converge_store_nothing_invalid_and_ban_only_attackers() {
    scenarios(1);
}

fn scenarios(half: u64) {
    let started = Instant::now();
    let (mut events, mut published, mut bans, mut rounds) = (0u64, 0usize, 0usize, (0u64, 0u64));
    let mut failures = Vec::new();
    let seeds = seeds(half);
    if seeds.is_empty() {
        return;
    }
    for &seed in &seeds {
        let report = sim::run(seed, &sim::scenario(seed));
        events += report.events;
        published += report.published;
        bans += report.bans.len();
        rounds = (rounds.0 + report.rounds.0, rounds.1 + report.rounds.1);
        if !report.problems.is_empty() {
            failures.push(format!("seed {seed} ({:?}): {}", sim::scenario(seed), report.problems.join("; ")));
        }
    }
    eprintln!(
        "{} scenarios in {:.1} s: {events} events, {published} records published, {bans} bans, {} sync rounds completed and {} failed",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        rounds.0,
        rounds.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed (replay one with RIX_SIM_SEED):\n{}",
        failures.len(),
        seeds.len(),
        failures[..failures.len().min(5)].join("\n")
    );
    assert!(published > 0 && rounds.0 > 0);
}

#[test]
fn one_seed_replays_exactly() {
    for seed in [3, 77, 1_234] {
        let cfg = sim::scenario(seed);
        let (a, b) = (sim::run(seed, &cfg), sim::run(seed, &cfg));
        assert_eq!((a.trace, a.events, &a.bans), (b.trace, b.events, &b.bans), "seed {seed}");
        assert_ne!(a.trace, sim::run(seed + 1, &cfg).trace);
    }
}

#[test]
fn hostile_peers_are_banned_by_the_nodes_they_attack() {
    let cfg = SimConfig { nodes: 5, hostile: 2, loss: 0.0, partitions: 0, crashes: 0, ..SimConfig::default() };
    let mut banned_hostiles = 0;
    for seed in 1..=50 {
        let report = sim::run(seed, &cfg);
        assert!(report.problems.is_empty(), "seed {seed}: {:?}", report.problems);
        assert!(report.bans.iter().all(|(_, on)| *on >= 5), "seed {seed}: {:?}", report.bans);
        banned_hostiles += report.bans.len();
    }
    // Three attacks per hostile peer per run, each of which bans.
    assert!(banned_hostiles >= 100, "only {banned_hostiles} bans in 50 runs");
}

#[test]
fn a_quiet_network_converges_with_no_failed_rounds_and_no_bans() {
    let cfg = SimConfig {
        hostile: 0,
        loss: 0.0,
        duplicate: 0.0,
        store_failure: 0.0,
        partitions: 0,
        crashes: 0,
        ..SimConfig::default()
    };
    for seed in 1..=20 {
        let report = sim::run(seed, &cfg);
        assert!(report.problems.is_empty(), "seed {seed}: {:?}", report.problems);
        assert!(report.bans.is_empty(), "seed {seed}: {:?}", report.bans);
        assert_eq!(report.rounds.1, 0, "seed {seed}: failed rounds in a quiet network");
        assert_eq!(report.published, cfg.nodes * cfg.records_per_node);
    }
}
