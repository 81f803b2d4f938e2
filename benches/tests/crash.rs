//! `croupier bench crash` at a small size: the term settles every bet as planned, sums to zero
//! per currency, and the same seed gives the same digest whatever the threads' timing.

use croupier_benches::crash::low_targets;
use croupier_benches::sharded::{self, ShardedConfig, ShardedScenario};
use croupier_benches::{Error, Quiet};
use croupier_journal::Durability;

fn small(seed: u64, durability: Durability) -> ShardedConfig {
    ShardedConfig {
        shards: 3,
        producers: 2,
        window: 16,
        ops: 4_001,
        accounts: 4_001,
        cashouts: 700,
        seed,
        durability,
        ..ShardedConfig::new(ShardedScenario::Crash)
    }
}

#[test]
fn a_term_settles_every_bet_sums_to_zero_and_replays_to_one_digest() {
    let r = sharded::run(&small(5, Durability::Process), &mut Quiet).expect("the crash scenario runs and verifies");
    let c = r.crash.as_ref().expect("the crash phases are reported");
    assert_eq!((c.bets, c.cashouts, r.report.ops, r.report.accepted, r.report.rejected), (4_001, 700, 4_701, 4_701, 0));
    assert_eq!(c.auto_cashouts, low_targets(4_001));
    assert_eq!(c.auto_cashouts, 401);
    assert_eq!((c.settled, c.losses), (4_001 - 700, 4_001 - 700 - 401));
    // The term sums to zero: what the house won the players lost, and it is the term's take.
    assert_eq!(c.house_result + c.players_result, 0);
    assert_eq!(c.house_result, c.stakes - c.payouts);
    assert!(c.payouts > 0 && c.stakes > c.payouts, "stakes {} payouts {}", c.stakes, c.payouts);
    assert!(c.crash_point > c.cashout_multiplier && c.cashout_multiplier >= 200);
    assert!(r.report.settle.is_some() && c.settle == r.report.settle.unwrap());
    assert_eq!(r.positions.len(), 3);

    // The same seed again, in fsync durability: the same states.
    let again = sharded::run(&small(5, Durability::Fsync), &mut Quiet).unwrap();
    assert_eq!(again.report.digest, r.report.digest);
    assert_eq!(again.crash.as_ref().unwrap().game_hash, c.game_hash);
    // Another seed: other stakes and another term.
    let other = sharded::run(&small(6, Durability::Process), &mut Quiet).unwrap();
    assert_ne!(other.report.digest, r.report.digest);
}

#[test]
fn more_cashouts_than_bets_without_a_target_are_refused() {
    let cfg = ShardedConfig { cashouts: 2_001, ..small(1, Durability::Process) };
    assert!(matches!(sharded::run(&cfg, &mut Quiet), Err(Error::InvalidConfig(_))));
}
