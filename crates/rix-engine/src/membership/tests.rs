use super::sim::{SimState, SimTypes};
use super::*;

fn roster(n: u32) -> Roster<SimTypes> {
    Roster { members: (0..n).map(|m| (m, 100 + u64::from(m))).collect(), threshold: Threshold::Majority }
}

fn approval(amendment: u64, member: u32, key: u64) -> Approval<SimState> {
    Approval { amendment, member, key }
}

fn admit(id: u64, amends: u64, member: u32) -> Amendment<SimState> {
    Amendment { id, amends, changes: vec![Change::Admit { member, key: 500 + u64::from(member) }] }
}

#[test]
fn an_amendment_takes_effect_at_its_threshold_of_distinct_members() {
    let mut chain = Chain::new(1, roster(5));
    chain.add_amendment(admit(10, 1, 9));
    // Member 0 three times (with its key), then a non-member, then member 1 with a wrong key:
    // one approval counted, three needed.
    chain.add_approval(approval(10, 0, 100));
    assert!(!chain.add_approval(approval(10, 0, 100)), "the same approval twice is held once");
    chain.add_approval(approval(10, 42, 142));
    chain.add_approval(approval(10, 1, 999));
    assert_eq!(chain.head().number, 1);
    chain.add_approval(approval(10, 1, 101));
    assert_eq!(chain.head().number, 1, "two of five is not a majority");
    chain.add_approval(approval(10, 2, 102));
    let head = chain.head();
    assert_eq!((head.number, head.id), (2, 10));
    assert_eq!(head.approved_by, [0, 1, 2].into());
    assert!(head.state.members.contains_key(&9));
}

/// The four deliveries of `competing_amendments_...`: two amendments of version 1 and the
/// approvals that make each reach the threshold.
fn deliver(chain: &mut Chain<SimState>, item: usize) {
    let fresh = match item {
        0 => chain.add_amendment(admit(20, 1, 8)),
        1 => chain.add_amendment(admit(30, 1, 9)),
        2 => (0..2).all(|m| chain.add_approval(approval(20, m, 100 + u64::from(m)))),
        _ => (1..3).all(|m| chain.add_approval(approval(30, m, 100 + u64::from(m)))),
    };
    assert!(fresh, "each item is new");
}

#[test]
fn competing_amendments_are_settled_by_the_smallest_id_whatever_the_order() {
    for order in [[0, 1, 2, 3], [3, 1, 2, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
        let mut chain = Chain::new(1, roster(3));
        for item in order {
            deliver(&mut chain, item);
        }
        assert_eq!(chain.head().id, 20, "order {order:?}");
    }
}

#[test]
fn approvals_count_with_the_key_of_the_amended_version_only() {
    let mut chain = Chain::new(1, roster(3));
    // Version 2 rotates member 0's key from 100 to 700.
    chain.add_amendment(Amendment { id: 10, amends: 1, changes: vec![Change::RotateKey { member: 0, key: 700 }] });
    chain.add_approval(approval(10, 0, 100));
    chain.add_approval(approval(10, 1, 101));
    assert_eq!(chain.head().number, 2);
    // Version 3 needs two approvals of version 2's members: the old key of 0 counts nothing.
    chain.add_amendment(admit(11, 10, 9));
    chain.add_approval(approval(11, 0, 100));
    chain.add_approval(approval(11, 2, 102));
    assert_eq!(chain.head().number, 2, "member 0's rotated-out key does not count");
    chain.add_approval(approval(11, 0, 700));
    assert_eq!(chain.head().number, 3);
}

#[test]
fn changes_that_do_not_apply_never_take_effect() {
    let r = roster(3);
    assert_eq!(r.apply(&[Change::Remove { member: 7 }]).unwrap_err().why, "not a member");
    assert_eq!(r.apply(&[Change::Admit { member: 0, key: 900 }]).unwrap_err().why, "already a member");
    assert_eq!(r.apply(&[Change::Admit { member: 5, key: 101 }]).unwrap_err().why, "key already in use");
    assert_eq!(r.apply(&[Change::RotateKey { member: 1, key: 102 }]).unwrap_err().why, "key already in use");
    let too_high = r.apply(&[Change::SetThreshold(Threshold::Fixed(4))]).unwrap_err();
    assert_eq!((too_high.index, too_high.why), (1, "threshold outside 1..=members"));
    // Removing a member and lowering the threshold in one amendment applies as a whole.
    let r = Roster::<SimTypes> { threshold: Threshold::Fixed(3), ..roster(3) };
    assert!(r.apply(&[Change::Remove { member: 2 }]).is_err());
    assert!(r.apply(&[Change::Remove { member: 2 }, Change::SetThreshold(Threshold::Fixed(2))]).is_ok());

    let mut chain = Chain::new(1, roster(3));
    chain.add_amendment(Amendment { id: 5, amends: 1, changes: vec![Change::Remove { member: 7 }] });
    for m in 0..3 {
        chain.add_approval(approval(5, m, 100 + u64::from(m)));
    }
    assert_eq!(chain.head().number, 1);
}

#[test]
fn a_seeded_run_converges() {
    let report = sim::run(7, 50, 4);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.orders, 4);
}
