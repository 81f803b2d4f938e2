//! Projector lag under a steady bet load: a 2-shard runtime takes `--rate` bets per second for
//! `--seconds` while the SQL projector follows its journals; prints the lag it sampled every
//! 50 ms (records and seconds behind, worst and 99th percentile) as one JSON object.
//!
//! `cargo run --release -p croupier-persistence --example lag -- [--rate N] [--seconds S] [--sql URL]`

use croupier_domain::command::{Command, PlaceBet};
use croupier_domain::ids::SelectionId;
use croupier_domain::testkit::{code, default_limits, deposit, id, setup_commands, CURRENCY, GAME};
use croupier_domain::{ExtId, Money, UserId};
use croupier_journal::Durability;
use croupier_persistence::{default_sql_url, ProjectorConfig, SqlProjector};
use croupier_runtime::{Runtime, RuntimeConfig};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate: u64 = arg("--rate").map_or(20_000, |v| v.parse().expect("--rate N"));
    let seconds: u64 = arg("--seconds").map_or(20, |v| v.parse().expect("--seconds S"));
    let users = 10_000u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let sql = arg("--sql").unwrap_or_else(|| default_sql_url(dir.path()));
    let mut cfg = RuntimeConfig::new(dir.path());
    cfg.shards = 2;
    cfg.durability = Durability::Process;
    let (rt, _) = Runtime::start(cfg).expect("runtime");
    let rt = Arc::new(rt);
    for c in setup_commands(default_limits()) {
        rt.call(c).expect("setup");
    }
    for u in 0..users {
        rt.call(deposit(u, 100_000_000, u)).expect("deposit");
    }
    rt.call(Command::GameStart { round: id("lag-round"), game: id(GAME), window_ms: Some(3_600_000) }).expect("round");

    let mut pcfg = ProjectorConfig::new(dir.path());
    pcfg.sql_url = sql.clone();
    let projector = SqlProjector::spawn(pcfg);

    // Producers pace themselves to `rate` in total, each on its own share of the orders.
    let producers = 4u64;
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for p in 0..producers {
        let (rt, done, sent) = (rt.clone(), done.clone(), sent.clone());
        threads.push(std::thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * rate as f64 / producers as f64) as u64;
                if n >= due {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                let order = n * producers + p;
                let bet = Command::PlaceBet(PlaceBet {
                    order_no: ExtId::numbered("lag-", order),
                    user: UserId(order % users),
                    round: id("lag-round"),
                    selection: SelectionId((order % 2) as u16),
                    stake: Money(100),
                    currency: code(CURRENCY),
                    platform: code("ag"),
                });
                let _ = rt.call(bet);
                n += 1;
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    let mut secs = Vec::new();
    let mut records = Vec::new();
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let lag = projector.lag();
        if start.elapsed() > Duration::from_secs(2) && !lag.is_empty() {
            secs.push(lag.iter().map(|l| l.seconds_behind).fold(0.0, f64::max));
            records.push(lag.iter().map(|l| l.records_behind).sum::<u64>());
        }
        assert!(!projector.is_finished(), "projector stopped: {:?}", projector.errors());
    }
    done.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("producer");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let report = projector.report();
    projector.stop().await.expect("projector stops");
    secs.sort_by(f64::total_cmp);
    records.sort_unstable();
    let pct = |v: usize, p: f64| ((v as f64 - 1.0) * p).round() as usize;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "projector-lag",
            "sql": sql,
            "target_rate": rate,
            "bets_per_sec": sent.load(Ordering::Relaxed) as f64 / elapsed,
            "seconds": elapsed,
            "samples": secs.len(),
            "lag_seconds": {"p50": secs[pct(secs.len(), 0.5)], "p99": secs[pct(secs.len(), 0.99)], "max": secs[secs.len() - 1]},
            "lag_records": {"p50": records[pct(records.len(), 0.5)], "p99": records[pct(records.len(), 0.99)], "max": records[records.len() - 1]},
            "projected_events": report.events,
            "transactions": report.transactions,
        })
    );
    drop(rt);
}
