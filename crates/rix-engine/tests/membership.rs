//! The charter chain's determinism, proven in the simulator (`rix_engine::membership::sim`):
//! 2,000 seeded histories of 200 membership operations each, delivered to 5 nodes each in its
//! own order (10,000 delivery orders), with duplicates, withheld items, competing amendments
//! and approvals that must not count. Every node must end on the chain the whole set gives,
//! with every operation in effect, and no version it ever showed may lack its threshold.
//! `RIX_MEMBERSHIP_SEED=<seed>` replays one seed; `RIX_MEMBERSHIP_RUNS=<n>` runs more.

use std::time::Instant;

use rix_engine::membership::sim;

const OPERATIONS: usize = 200;
const NODES: usize = 5;

fn seeds(half: u64) -> Vec<u64> {
    if let Ok(seed) = std::env::var("RIX_MEMBERSHIP_SEED") {
        return if half == 0 { vec![seed.parse().expect("RIX_MEMBERSHIP_SEED is a number")] } else { Vec::new() };
    }
    let runs: u64 = std::env::var("RIX_MEMBERSHIP_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(2_000);
    (1..=runs).filter(|s| s % 2 == half).collect()
}

fn histories(half: u64) {
    let started = Instant::now();
    let (mut orders, mut deliveries, mut versions, mut ties, mut failures) = (0, 0, 0, 0, Vec::new());
    for seed in seeds(half) {
        let report = sim::run(seed, OPERATIONS, NODES);
        orders += report.orders;
        deliveries += report.deliveries;
        versions += report.versions_checked;
        ties += report.ties;
        failures.extend(report.failures);
    }
    println!(
        "{orders} delivery orders of {OPERATIONS} operations, {deliveries} items delivered, {versions} versions checked \
         against their thresholds, {ties} ties settled, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures (replay with RIX_MEMBERSHIP_SEED):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_delivery_order_gives_the_same_charter_chain_and_no_version_lacks_its_threshold() {
    histories(0);
}

#[test]
fn more_delivery_orders_give_the_same_charter_chain_and_no_version_lacks_its_threshold() {
    histories(1);
}
