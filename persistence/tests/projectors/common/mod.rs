//! Shared by the persistence tests: a history written by the real sharded runtime, the
//! engine's balances for it, and the same balances read back from SQL.
#![allow(dead_code)]

use croupier_domain::command::Command;
use croupier_domain::testkit::{default_limits, setup_commands, Generator};
use croupier_domain::{State, Timestamp};
use croupier_journal::Durability;
use croupier_persistence::Db;
use croupier_runtime::{ManualClock, Runtime, RuntimeConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// (shard, account kind, reference, currency) → balance.
pub use croupier_persistence::reconcile::LedgerBalances as Balances;

pub struct History {
    pub balances: Balances,
    /// Events journaled per shard.
    pub events: u64,
    pub transfers: u64,
}

/// Runs `commands` generated commands (deposits, withdrawals, rounds with bets and draws, red
/// packets grabbed across shards) through a runtime of `shards` shards writing `dir`, and
/// returns the engine's balances at the end.
pub fn build_history(dir: &Path, shards: usize, commands: u64, seed: u64) -> History {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let mut cfg = RuntimeConfig::new(dir);
    cfg.shards = shards;
    cfg.durability = Durability::Process;
    cfg.clock = clock.clone();
    cfg.segment_bytes = 256 * 1024;
    cfg.snapshot_every_records = None;
    let (rt, _) = Runtime::start(cfg).expect("runtime starts");
    for cmd in setup_commands(default_limits()) {
        rt.call(cmd.clone()).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"));
    }
    let mut g = Generator::new(seed, 200);
    for _ in 0..commands {
        let cmd: Command = g.next_command();
        let _ = rt.call(cmd);
        clock.advance_ms(7);
    }
    assert!(rt.wait_transfers_settled(Duration::from_secs(20)), "transfers settle");
    let mut balances = Balances::new();
    let mut events = 0;
    let mut transfers = 0;
    for shard in 0..shards {
        let (b, t) = rt
            .inspect(shard, move |s: &State| {
                let mut b = Balances::new();
                croupier_persistence::reconcile::engine_balances(shard as u32, s, &mut b);
                let t: u64 = s.links().iter().map(|l| l.sent).sum();
                (b, t)
            })
            .expect("ring has room");
        balances.extend(b);
        transfers += t;
    }
    rt.shutdown(false).expect("clean shutdown");
    for shard in 0..shards as u32 {
        let mut src = croupier_feed::ShardFeed::open(dir, shard, 0);
        events += src.read(u64::MAX, |_, _| {}).expect("journal reads").events;
    }
    History { balances, events, transfers }
}

/// Ledger sums per account from `wallet_ledger`, and the `balances` table, must agree.
pub async fn sql_balances(db: &Db) -> Balances {
    let ledger = croupier_persistence::reconcile::ledger_balances(db).await.expect("ledger sums");
    let table = croupier_persistence::reconcile::table_balances(db).await.expect("balances");
    assert_eq!(ledger, table, "the balances table agrees with the ledger sums");
    ledger
}

/// Every currency's ledger sums to zero.
pub async fn assert_zero_sum(db: &Db) {
    let sums = db
        .pairs("SELECT currency, CAST(SUM(amount) AS BIGINT) FROM wallet_ledger GROUP BY currency")
        .await
        .expect("sums");
    assert!(!sums.is_empty(), "the ledger has lines");
    for (cur, sum) in sums {
        assert_eq!(sum, 0, "currency {cur} sums to zero");
    }
}

/// Counts rows and checks that no (shard, position, idx) appears twice.
pub async fn assert_exactly_once(db: &Db, events: u64) {
    let n = db.scalar("SELECT COUNT(*) FROM events").await.unwrap();
    let distinct =
        db.scalar("SELECT COUNT(*) FROM (SELECT DISTINCT shard, position, idx FROM events) d").await.unwrap();
    assert_eq!(n as u64, events, "every journaled event is in `events`");
    assert_eq!(distinct, n, "no event twice");
    let counted = db.scalar("SELECT CAST(SUM(events) AS BIGINT) FROM projector_position").await.unwrap();
    assert_eq!(counted as u64, events, "positions count what was written");
    let ledger = db.scalar("SELECT COUNT(*) FROM wallet_ledger").await.unwrap();
    let ledger_distinct = db
        .scalar("SELECT COUNT(*) FROM (SELECT DISTINCT shard, position, idx, line FROM wallet_ledger) d")
        .await
        .unwrap();
    assert_eq!(ledger, ledger_distinct);
}

/// A PostgreSQL URL whose connections use a fresh schema of their own, and the schema's name.
pub async fn pg_schema(base: &str, name: &str) -> (String, String) {
    let schema = format!("t_{name}_{}", std::process::id());
    let db = Db::connect(base).await.expect("connect to CROUPIER_TEST_PG");
    db.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    db.execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    db.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    (format!("{base}{sep}options=-c%20search_path%3D{schema}"), schema)
}

pub async fn drop_schema(base: &str, schema: &str) {
    let db = Db::connect(base).await.unwrap();
    db.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    db.close().await;
}

pub use croupier_persistence::test_services::service;
