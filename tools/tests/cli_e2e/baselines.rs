//! The baselines (`croupier bench pg-bets`, `redis-grab`, `compare`) run by the built binary
//! against the real PostgreSQL and Redis named by `CROUPIER_TEST_PG` / `CROUPIER_TEST_REDIS`
//! (the standard local addresses when unset); a service that does not answer fails the test. The data a run
//! leaves with `--keep` is checked in the server, then removed.

use croupier_persistence::test_services::service;
use std::collections::HashMap;
use std::process::{Command, Output};

fn croupier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_croupier")).args(args).output().expect("the croupier binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let out = croupier(args);
    assert!(out.status.success(), "croupier {args:?} failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "exactly one JSON object: {stdout}");
    serde_json::from_str(&stdout).expect("valid JSON")
}

/// The standard report keys, with positive figures and ordered percentiles.
fn assert_standard(v: &serde_json::Value, scenario: &str) {
    assert_eq!(v["scenario"], scenario, "{v}");
    let ops = v["ops"].as_u64().expect("ops");
    assert!(ops > 0, "{v}");
    assert!(v["seconds"].as_f64().expect("seconds") > 0.0, "{v}");
    assert!(v["ops_per_sec"].as_f64().expect("ops_per_sec") > 0.0, "{v}");
    let l = |k: &str| v["latency_us"][k].as_f64().unwrap_or_else(|| panic!("latency_us.{k} in {v}"));
    assert!(0.0 < l("p50") && l("p50") <= l("p99") && l("p99") <= l("p999") && l("p999") <= l("max"), "{v}");
    let (accepted, rejected) = (v["accepted"].as_u64().unwrap(), v["rejected"].as_u64().unwrap());
    assert_eq!(accepted + rejected, ops, "{v}");
    assert!(v["connections"].as_u64().unwrap() >= 1, "{v}");
}

/// "1952.04" -> 195204.
fn minor(amount: &serde_json::Value) -> i64 {
    let s = amount.as_str().expect("amounts are decimal strings");
    let (units, cents) = s.split_once('.').unwrap_or((s, "00"));
    assert_eq!(cents.len(), 2, "{s}");
    units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn pg(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.expect("PostgreSQL answers")
}

async fn schema_exists(conn: &mut sqlx::PgConnection, schema: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(conn)
        .await
        .unwrap()
}

#[test]
fn pg_bets_reports_the_standard_figures_and_removes_its_schema() {
    let url = service("CROUPIER_TEST_PG");
    let v = run_json(&[
        "bench",
        "pg-bets",
        "--duration",
        "1",
        "--connections",
        "4",
        "--users",
        "200",
        "--json",
        "--pg-url",
        &url,
    ]);
    assert_standard(&v, "pg-bets");
    assert_eq!(v["kept"], false);
    assert_eq!(v["funds"], "10000000.00");
    assert!(v["server"]["synchronous_commit"].is_string(), "{v}");
    let schema = v["namespace"].as_str().unwrap().to_string();
    block_on(async {
        let mut conn = pg(&url).await;
        assert!(!schema_exists(&mut conn, &schema).await, "{schema} was left behind");
    });
}

#[test]
fn pg_bets_money_adds_up_in_the_database() {
    let url = service("CROUPIER_TEST_PG");
    // 50 users with 300.00 each and stakes up to 100.00: many run dry, so refusals happen too.
    let v = run_json(&[
        "bench",
        "pg-bets",
        "--duration",
        "1",
        "--connections",
        "4",
        "--users",
        "50",
        "--funds",
        "300.00",
        "--keep",
        "--json",
        "--pg-url",
        &url,
    ]);
    assert_standard(&v, "pg-bets");
    assert_eq!(v["kept"], true);
    let schema = v["namespace"].as_str().unwrap().to_string();
    let accepted = v["accepted"].as_u64().unwrap() as i64;
    block_on(async {
        let mut conn = pg(&url).await;
        let q = |sql: &str| sql.replace("S.", &format!("{schema}."));
        let (users, available, held): (i64, i64, i64) =
            sqlx::query_as(&q("SELECT count(*), sum(available)::bigint, sum(held)::bigint FROM S.accounts"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let (orders, staked): (i64, i64) =
            sqlx::query_as(&q("SELECT count(*), coalesce(sum(stake), 0)::bigint FROM S.orders"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let (rows, ledger): (i64, i64) =
            sqlx::query_as(&q("SELECT count(*), coalesce(sum(amount), 0)::bigint FROM S.wallet_ledger"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let initial = users * 30_000;
        assert_eq!(users, 50);
        assert_eq!(orders, accepted, "one order per accepted bet");
        assert_eq!(rows, orders, "one ledger row per order");
        assert_eq!(-ledger, initial - available, "the ledger's debits are what left the balances");
        assert_eq!(held, staked);
        assert_eq!(-ledger, staked);
        // Per user: the last ledger row's balance is the account's, and no balance went negative.
        let mismatched: i64 = sqlx::query_scalar(&q("SELECT count(*) FROM S.accounts a
               LEFT JOIN LATERAL (SELECT balance_after FROM S.wallet_ledger l
                                   WHERE l.user_id = a.user_id ORDER BY id DESC LIMIT 1) last ON true
              WHERE a.available < 0 OR a.available <> coalesce(last.balance_after, 30000)
                 OR a.held <> (SELECT coalesce(sum(stake), 0) FROM S.orders o WHERE o.user_id = a.user_id)"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(mismatched, 0, "accounts whose balance disagrees with their ledger or orders");
        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await.unwrap();
    });
}

fn redis_conn(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().expect("Redis answers")
}

fn redis_keys(namespace: &str) -> [String; 4] {
    ["shares", "grabbed", "log", "wallet"].map(|k| format!("{{{namespace}}}:{k}"))
}

#[test]
fn redis_grab_hands_out_every_share_exactly_once() {
    let url = service("CROUPIER_TEST_REDIS");
    // 3,000 shares, grabbers drawn from 5,000 users: repeats are refused, and the run ends
    // when the packet is empty (the duration is only an upper bound).
    let v = run_json(&[
        "bench",
        "redis-grab",
        "--duration",
        "60",
        "--shares",
        "3000",
        "--users",
        "5000",
        "--pipeline",
        "8",
        "--connections",
        "4",
        "--keep",
        "--json",
        "--redis-url",
        &url,
    ]);
    assert_standard(&v, "redis-grab");
    assert_eq!(v["emptied"], true, "{v}");
    assert_eq!(v["accepted"], 3_000);
    assert!(v["rejected"].as_u64().unwrap() > 0, "repeat grabbers and the empty packet are refused: {v}");
    let total = minor(&v["packet_total"]);
    let [shares, grabbed, log, wallet] = redis_keys(v["namespace"].as_str().unwrap());
    let mut con = redis_conn(&url);
    let left: i64 = redis::cmd("LLEN").arg(&shares).query(&mut con).unwrap();
    assert_eq!(left, 0);
    let by_user: HashMap<u64, i64> = redis::cmd("HGETALL").arg(&grabbed).query(&mut con).unwrap();
    assert_eq!(by_user.len(), 3_000);
    assert!(by_user.values().all(|s| (1..=199).contains(s)), "every share is 0.01 to 1.99");
    assert_eq!(by_user.values().sum::<i64>(), total, "the grabbed shares make up the packet");
    let records: Vec<String> = redis::cmd("LRANGE").arg(&log).arg(0).arg(-1).query(&mut con).unwrap();
    let mut logged: HashMap<u64, i64> = HashMap::new();
    for r in &records {
        let mut parts = r.split(':');
        let user: u64 = parts.next().unwrap().parse().unwrap();
        let share: i64 = parts.next().unwrap().parse().unwrap();
        assert!(logged.insert(user, share).is_none(), "user {user} grabbed twice");
    }
    assert_eq!(logged, by_user, "the log records exactly the grabs");
    let wallets: HashMap<u64, i64> = redis::cmd("HGETALL").arg(&wallet).query(&mut con).unwrap();
    assert_eq!(wallets, by_user, "each grabber is credited their share once");
    let _: i64 = redis::cmd("UNLINK").arg(&[shares, grabbed, log, wallet]).query(&mut con).unwrap();
}

#[test]
fn redis_grab_reports_the_standard_figures_and_removes_its_keys() {
    let url = service("CROUPIER_TEST_REDIS");
    let v = run_json(&["bench", "redis-grab", "--duration", "1", "--connections", "4", "--json", "--redis-url", &url]);
    assert_standard(&v, "redis-grab");
    assert_eq!(v["rejected"], 0, "every grab by a new user gets a share");
    assert_eq!(v["kept"], false);
    let keys = redis_keys(v["namespace"].as_str().unwrap());
    let exist: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut redis_conn(&url)).unwrap();
    assert_eq!(exist, 0, "keys left behind");
}

#[test]
fn compare_runs_every_contender_side_by_side() {
    let (pg, redis) = (service("CROUPIER_TEST_PG"), service("CROUPIER_TEST_REDIS"));
    let v = run_json(&[
        "bench",
        "compare",
        "--duration",
        "1",
        "--connections",
        "4",
        "--users",
        "1000",
        "--shares",
        "100000",
        "--ops",
        "20000",
        "--grabs",
        "20000",
        "--pipeline",
        "8",
        "--pg-url",
        &pg,
        "--redis-url",
        &redis,
        "--json",
    ]);
    assert_eq!(v["scenario"], "compare");
    let contenders = v["contenders"].as_array().expect("contenders");
    let names: Vec<&str> = contenders.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "pg-bets",
            "bets-fsync",
            "bets-process",
            "http-bets-fsync",
            "http-bets-process",
            "redis-grab",
            "redis-grab-pipeline-8",
            "grab-process",
            "grab-fsync"
        ]
    );
    for c in contenders {
        let scenario = c["report"]["scenario"].as_str().unwrap();
        assert!(c["ops_per_sec"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["report"]["latency_us"]["p99"].as_f64().unwrap() > 0.0, "{c}");
        assert!(["pg-bets", "bets", "http-bets", "redis-grab", "grab"].contains(&scenario), "{c}");
    }
    assert_eq!(contenders[1]["report"]["durability"], "fsync");
    assert_eq!(contenders[1]["report"]["accounts"].as_u64().unwrap(), 1_000, "croupier bets over the same users");
    assert_eq!(contenders[3]["report"]["durability"], "fsync");
    assert_eq!(contenders[4]["report"]["connections"], 4, "HTTP over as many connections as PostgreSQL");
    assert_eq!(contenders[6]["report"]["pipeline"], 8);
    let ratios = v["ratios"].as_array().expect("ratios");
    assert_eq!(ratios.len(), 4 + 2 * 2, "each croupier contender over each baseline of its group");
    for r in ratios {
        let (c, b) = (r["croupier"].as_str().unwrap(), r["baseline"].as_str().unwrap());
        let ops = |name: &str| contenders.iter().find(|x| x["name"] == name).unwrap()["ops_per_sec"].as_f64().unwrap();
        let expected = ops(c) / ops(b);
        assert!((r["ratio"].as_f64().unwrap() - expected).abs() <= expected * 1e-9, "{r}");
        assert_eq!(r["meets_target"], r["ratio"].as_f64().unwrap() >= r["target"].as_f64().unwrap());
    }
}

#[test]
fn a_missing_service_url_is_a_clear_error() {
    for (scenario, flag, var) in
        [("pg-bets", "--pg-url", "CROUPIER_TEST_PG"), ("redis-grab", "--redis-url", "CROUPIER_TEST_REDIS")]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args(["bench", scenario, "--duration", "1"])
            .env_remove(var)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains(flag) && err.contains(var), "{err}");
    }
    let out = croupier(&["bench", "bets", "--pg-url", "postgres://x"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--pg-url does not apply to bets"), "{}", text(&out.stderr));
}
