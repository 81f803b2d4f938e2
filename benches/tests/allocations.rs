//! Accepting bets and grabbing shares allocate nothing per operation in the steady state: a
//! counting global allocator watches the measured loops. One test in this binary, so that no
//! other test's allocations are counted.

use croupier_benches::alloc_count::{allocations, Counting};
use croupier_benches::{run, BetsConfig, Config, GrabConfig, Observer};

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Counter;

impl Observer for Counter {
    fn allocations(&self) -> Option<u64> {
        Some(allocations())
    }
}

#[test]
fn the_measured_loops_allocate_next_to_nothing() {
    let ops = 200_000;
    for batch in [1, 64] {
        let bets = Config::Bets(BetsConfig { accounts: 2_000, ops, seed: 1, batch });
        let r = run(&bets, &mut Counter).unwrap();
        assert_eq!(r.accepted, ops);
        let allocs = r.allocations.expect("counted");
        // The one round's list of bet ids grows by doubling: about log2(ops) reallocations,
        // and nothing per bet.
        assert!(allocs <= 40, "{allocs} allocations for {ops} bets in batches of {batch}");
    }

    let grab = Config::Grab(GrabConfig::new(ops, 1));
    let r = run(&grab, &mut Counter).unwrap();
    assert_eq!(r.accepted, ops);
    let allocs = r.allocations.expect("counted");
    // The packet's grab list and its per-user index grow by doubling.
    assert!(allocs <= 80, "{allocs} allocations for {ops} grabs");
}
