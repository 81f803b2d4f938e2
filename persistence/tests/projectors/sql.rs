//! The SQL projector against a history written by the sharded runtime (2 shards, so red-packet
//! shares travel between shards): exactly once across injected failures and aborted tasks, and
//! the ledger sums equal the engine's balances. SQLite always; PostgreSQL when
//! `CROUPIER_TEST_PG` is set.

use crate::common;

use common::*;
use croupier_persistence::db::Fault;
use croupier_persistence::{project, Db, ProjectorConfig, SqlProjector};
use std::time::Duration;

fn config(dir: &std::path::Path, url: &str, batch: u64) -> ProjectorConfig {
    let mut cfg = ProjectorConfig::new(dir);
    cfg.sql_url = url.to_owned();
    cfg.batch_events = batch;
    cfg.idle_poll = Duration::from_millis(2);
    cfg
}

/// Fails writes after a few statements, aborts running tasks at random points, then finishes
/// the projection; every row must be there exactly once and the ledger must equal the engine.
async fn crash_and_check(dir: &std::path::Path, url: &str, history: &History) {
    // Writes that fail part way through their transaction, between runs that get a few
    // batches through, until the history is projected.
    let mut injected = 0;
    for n in [0u64, 1, 2, 5, 9, 14].into_iter().cycle().take(60) {
        let mut cfg = config(dir, url, 100);
        cfg.fault = Fault { fail_after_statements: Some(n) };
        match project(cfg, |_| {}).await {
            Err(croupier_persistence::ProjectError::Injected) => injected += 1,
            Err(e) => panic!("{e}"),
            // Nothing left to write: the fault had no statement to hit.
            Ok(r) if r.events == 0 => break,
            Ok(r) => panic!("the fault hook did not fire: {r:?}"),
        }
        let db = Db::connect(url).await.unwrap();
        let before =
            db.scalar("SELECT COALESCE(CAST(SUM(events) AS BIGINT), 0) FROM projector_position").await.unwrap();
        db.close().await;
        let mut cfg = config(dir, url, 100);
        cfg.fault = Fault { fail_after_statements: Some(12) };
        let _ = project(cfg, |_| {}).await;
        let db = Db::connect(url).await.unwrap();
        let after = db.scalar("SELECT COALESCE(CAST(SUM(events) AS BIGINT), 0) FROM projector_position").await.unwrap();
        let rows = db.scalar("SELECT COUNT(*) FROM events").await.unwrap();
        assert_eq!(rows, after, "rows and positions move together");
        assert!(after >= before);
        db.close().await;
        if after as u64 == history.events {
            break;
        }
    }
    assert!(injected >= 3, "faults were injected mid-projection ({injected})");
    // Live projector tasks dropped wherever they happen to be.
    for wait_ms in [1u64, 3, 7, 12] {
        let handle = SqlProjector::spawn(config(dir, url, 500));
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        handle.abort();
        let db = Db::connect(url).await.unwrap();
        let rows = db.scalar("SELECT COUNT(*) FROM events").await.unwrap();
        let counted =
            db.scalar("SELECT COALESCE(CAST(SUM(events) AS BIGINT), 0) FROM projector_position").await.unwrap();
        assert_eq!(rows, counted, "an aborted transaction leaves nothing behind");
        db.close().await;
    }
    // The live projector follows to the end and stops cleanly.
    let handle = SqlProjector::spawn(config(dir, url, 700));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let lag = handle.lag();
        if !lag.is_empty() && lag.iter().all(|l| l.records_behind == 0) && handle.report().events > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "projector catches up: {lag:?} {:?}", handle.errors());
        assert!(!handle.is_finished(), "projector stopped: {:?}", handle.errors());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.stop().await.expect("clean stop");
    // Nothing new: an offline run finds nothing to do.
    let again = project(config(dir, url, 700), |_| {}).await.unwrap();
    assert_eq!(again.events, 0);

    let db = Db::connect(url).await.unwrap();
    assert_exactly_once(&db, history.events).await;
    assert_zero_sum(&db).await;
    let sql = sql_balances(&db).await;
    assert_eq!(sql, history.balances, "SQL ledger sums equal the engine's balances");
    let transit = db.scalar("SELECT COUNT(*) FROM shard_transfers WHERE side = 'received'").await.unwrap();
    assert_eq!(transit as u64, history.transfers, "every shard transfer was projected on its receiving end");
    let settled = db.scalar("SELECT COUNT(*) FROM orders WHERE bill_status = 2").await.unwrap();
    assert!(settled > 0, "some orders are settled");
    let drawn = db.scalar("SELECT COUNT(*) FROM game_round_info WHERE game_status >= 5").await.unwrap();
    assert!(drawn > 0, "some rounds are drawn");
    assert_games(&db, history).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_exactly_once_and_ledger_equals_engine() {
    let dir = tempfile::tempdir().unwrap();
    let history = build_history(dir.path(), 2, 4_000, 11);
    assert!(history.transfers > 0, "the history moves money between shards");
    let url = croupier_persistence::default_sql_url(dir.path());
    crash_and_check(dir.path(), &url, &history).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_exactly_once_and_ledger_equals_engine() {
    let base = common::service("CROUPIER_TEST_PG");
    let dir = tempfile::tempdir().unwrap();
    let history = build_history(dir.path(), 2, 4_000, 12);
    let (url, schema) = pg_schema(&base, "sql").await;
    crash_and_check(dir.path(), &url, &history).await;
    // A rebuild gives the same tables.
    let mut cfg = config(dir.path(), &url, 5_000);
    cfg.rebuild = true;
    let r = project(cfg, |_| {}).await.unwrap();
    assert_eq!(r.events, history.events);
    let db = Db::connect(&url).await.unwrap();
    assert_exactly_once(&db, history.events).await;
    assert_eq!(sql_balances(&db).await, history.balances);
    assert_games(&db, &history).await;
    db.close().await;
    drop_schema(&base, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_follows_a_live_runtime() {
    // Projector running while the runtime writes: it must end with exactly the engine's rows.
    let dir = tempfile::tempdir().unwrap();
    let url = croupier_persistence::default_sql_url(dir.path());
    let d = dir.path().to_owned();
    let writer = std::thread::spawn(move || build_history(&d, 2, 3_000, 13));
    // The data folder records its shard count once the runtime starts.
    while !dir.path().join("shards").exists() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let handle = SqlProjector::spawn(config(dir.path(), &url, 400));
    let history = tokio::task::spawn_blocking(move || writer.join().unwrap()).await.unwrap();
    loop {
        let lag = handle.lag();
        if lag.iter().map(|l| l.projected_position).sum::<u64>() > 0 && lag.iter().all(|l| l.records_behind == 0) {
            break;
        }
        assert!(!handle.is_finished(), "projector stopped: {:?}", handle.errors());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.stop().await.unwrap();
    let db = Db::connect(&url).await.unwrap();
    assert_exactly_once(&db, history.events).await;
    assert_eq!(sql_balances(&db).await, history.balances);
    assert_games(&db, &history).await;
    db.close().await;
}

/// Every table's rows, as text, in key order (positions' timestamps left out).
async fn dump(url: &str) -> Vec<(String, Vec<Vec<Option<String>>>)> {
    use sqlx::Row;
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut out = Vec::new();
    for t in croupier_persistence::db::PROJECTED_TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {t}")).fetch_all(&pool).await.unwrap();
        let mut text: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|r| (0..r.columns().len()).map(|i| r.try_get_unchecked::<Option<String>, _>(i).unwrap()).collect())
            .collect();
        text.sort();
        out.push((t.to_string(), text));
    }
    let positions =
        sqlx::query_as::<_, (i64, i64, i64)>("SELECT shard, position, events FROM projector_position ORDER BY shard")
            .fetch_all(&pool)
            .await
            .unwrap();
    out.push(("projector_position".into(), positions.iter().map(|p| vec![Some(format!("{p:?}"))]).collect()));
    pool.close().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_does_not_change_the_tables() {
    // One event per transaction takes the update paths (settlement, round status, packet
    // grabs and expiry applied to rows of earlier transactions); one transaction for the whole
    // history takes the in-batch paths. Both must give the same tables.
    let dir = tempfile::tempdir().unwrap();
    let history = build_history(dir.path(), 2, 2_500, 31);
    let small = format!("sqlite://{}", dir.path().join("small.sqlite").display());
    let large = format!("sqlite://{}", dir.path().join("large.sqlite").display());
    let r = project(config(dir.path(), &small, 1), |_| {}).await.unwrap();
    assert_eq!(r.events, history.events);
    assert!(r.transactions * 2 >= r.commands, "about one command per shard per transaction: {r:?}");
    let r = project(config(dir.path(), &large, 10_000_000), |_| {}).await.unwrap();
    assert_eq!(r.transactions, 1);
    let (a, b) = (dump(&small).await, dump(&large).await);
    // No row anywhere holds a secret: a server seed in use, a hash of a flight that never crashed.
    assert!(history.games.secrets.len() > 12, "seeds in use and the stopped flight's hash");
    for (name, rows) in &a {
        for cell in rows.iter().flatten().flatten() {
            let cell = cell.to_lowercase();
            assert!(!history.games.secrets.iter().any(|s| cell.contains(s)), "{name} holds a secret: {cell}");
        }
    }
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(!x.is_empty(), "{name} has rows");
        assert_eq!(x, y, "table {name} differs between batch sizes");
    }
    // Settled orders and grabs exist, so the update paths were exercised.
    let db = Db::connect(&small).await.unwrap();
    assert!(db.scalar("SELECT COUNT(*) FROM orders WHERE bill_status = 2").await.unwrap() > 0);
    assert!(db.scalar("SELECT COUNT(*) FROM red_packet_grabs").await.unwrap() > 0);
    // Games' rows changed by later transactions: bets settled at the crash, plinko confirmed,
    // mines revealed.
    assert!(
        db.scalar("SELECT COUNT(*) FROM crash_bets WHERE status = 'lost' OR status = 'cashed_out'").await.unwrap() > 0
    );
    assert!(db.scalar("SELECT COUNT(*) FROM instant_bets WHERE revealed <> 0").await.unwrap() > 0);
    assert_games(&db, &history).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_committed_before_the_projector_restarted_is_revealed_after() {
    // The projector keeps the seeds in use in memory only; a rotation projected by a later
    // run reveals a seed it must read back from the journal.
    let dir = tempfile::tempdir().unwrap();
    let history = build_history(dir.path(), 2, 300, 43);
    let url = croupier_persistence::default_sql_url(dir.path());
    let r = project(config(dir.path(), &url, 10_000), |_| {}).await.unwrap();
    assert_eq!(r.events, history.events);
    let db = Db::connect(&url).await.unwrap();
    let unrevealed = db.scalar("SELECT COUNT(*) FROM instant_seeds WHERE server_seed IS NULL").await.unwrap();
    assert_eq!(unrevealed, 12, "one pair in use per player");
    db.close().await;
    // The runtime continues the same journals and every player rotates once more.
    let (rt, _) = start_runtime(dir.path(), 2, croupier_domain::Timestamp(1_800_000_000_000));
    for u in 1..=12 {
        rt.call(rotate_seed(u, 3)).unwrap_or_else(|r| panic!("rotation refused: {r}"));
    }
    let facts = game_facts(&rt, 2);
    rt.shutdown(false).unwrap();
    let r = project(config(dir.path(), &url, 10_000), |_| {}).await.unwrap();
    assert_eq!(r.events, 12);
    let db = Db::connect(&url).await.unwrap();
    assert_eq!(GameFacts::of_sql(&db).await.seeds, facts.seeds, "every rotated seed revealed, none in use");
    let unrevealed = db.scalar("SELECT COUNT(*) FROM instant_seeds WHERE server_seed IS NULL").await.unwrap();
    assert_eq!(unrevealed, 12);
    db.close().await;
}

/// Issue 20, item 1: a packet for chosen recipients, grabbed on the sender's shard and across
/// shards, as seed 002's `account` and `account_log` show it, and the packet's recipients.
async fn seed_002_views(url: &str) {
    use croupier_domain::command::{Command, PacketKind, SendRedPacket};
    use croupier_domain::testkit::*;
    use croupier_domain::{Money, Timestamp, UserId};
    use croupier_runtime::shard_of;
    let dir = tempfile::tempdir().unwrap();
    let (rt, _clock) = start_runtime(dir.path(), 2, Timestamp(1_700_000_000_000));
    for cmd in setup_commands(default_limits()) {
        rt.call(cmd).unwrap();
    }
    let sender = 1u64;
    let near = (2..).find(|u| shard_of(UserId(*u), 2) == shard_of(UserId(sender), 2)).unwrap();
    let far = (2..).find(|u| shard_of(UserId(*u), 2) != shard_of(UserId(sender), 2)).unwrap();
    rt.call(deposit(sender, 10_000, 1)).unwrap();
    let send = Command::SendRedPacket(SendRedPacket {
        packet: id("gift"),
        sender: UserId(sender),
        currency: code(CURRENCY),
        total: Money(300),
        shares: 2,
        kind: PacketKind::Normal,
        ttl_ms: None,
        recipients: vec![UserId(far), UserId(near)],
    });
    rt.call(send).unwrap();
    let grab = |user: u64| Command::GrabRedPacket { packet: id("gift"), sender: UserId(sender), user: UserId(user) };
    assert_eq!(rt.call(grab(far + near)).unwrap_err().code(), "NOT_A_RECIPIENT");
    rt.call(grab(near)).unwrap();
    rt.call(grab(far)).unwrap();
    assert!(rt.wait_transfers_settled(Duration::from_secs(20)));
    rt.shutdown(false).unwrap();
    project(config(dir.path(), url, 100), |_| {}).await.unwrap();

    let db = Db::connect(url).await.unwrap();
    let mut accounts =
        db.pairs("SELECT account_name || '|' || account_type || '|' || status, user_id FROM account").await.unwrap();
    accounts.sort_by_key(|a| a.1);
    let mut expected: Vec<_> =
        [sender, near, far].iter().map(|u| (format!("player {u} CNY|player|active"), *u as i64)).collect();
    expected.sort_by_key(|a| a.1);
    assert_eq!(accounts, expected);
    let log = |user: u64| {
        let db = &db;
        async move {
            let sql = format!(
                "SELECT change_type || '|' || status || '|' || description, COALESCE(target_user_id, -1) \
                 FROM account_log WHERE user_id = {user} ORDER BY shard, log_no"
            );
            db.pairs(&sql).await.unwrap()
        }
    };
    let s = sender as i64;
    assert_eq!(
        log(sender).await,
        vec![
            ("deposit|done|deposit from the cashier, transfer dep-1".to_string(), -1),
            ("packet_send|done|red packet gift sent".to_string(), s),
        ]
    );
    assert_eq!(log(near).await, vec![("packet_grab|done|share of red packet gift grabbed".to_string(), s)]);
    let from = shard_of(UserId(sender), 2);
    assert_eq!(log(far).await, vec![(format!("transfer_in|done|red packet share from shard transfer {from}:1"), -1)]);
    let recipients = db.pairs("SELECT recipients, CAST(packet_no AS BIGINT) FROM red_packets").await.unwrap();
    let mut named = [near, far];
    named.sort();
    assert_eq!(recipients, vec![(format!("[{},{}]", named[0], named[1]), 0)]);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_account_views_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = croupier_persistence::default_sql_url(dir.path());
    seed_002_views(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_account_views_on_postgres() {
    let base = common::service("CROUPIER_TEST_PG");
    let (url, schema) = pg_schema(&base, "seed002").await;
    seed_002_views(&url).await;
    drop_schema(&base, &schema).await;
}
