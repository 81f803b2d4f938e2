//! `pg-bets`: bet acceptance as the classic design does it, one PostgreSQL transaction per bet.
//!
//! Schema (in its own schema, `croupier_bl_pg_…`): `accounts` (available and held balance per
//! user, `CHECK (available >= 0)`), `orders` (one row per accepted bet, unique order number:
//! the idempotency key), `wallet_ledger` (one row per balance change with the balance after).
//! Setup funds `users` users with `funds` each in one statement (untimed).
//!
//! One bet (the same decision croupier's `PlaceBet` makes: enough available money, then hold
//! the stake and record the bet), each statement a round trip, as an application would send it:
//!
//! ```sql
//! BEGIN;
//! SELECT available FROM accounts WHERE user_id = $1 FOR UPDATE;   -- refuse if < stake
//! INSERT INTO orders (order_no, user_id, round_id, selection, stake) VALUES (…) RETURNING id;
//! UPDATE accounts SET available = available - $2, held = held + $2 WHERE user_id = $1 RETURNING available;
//! INSERT INTO wallet_ledger (user_id, order_id, amount, balance_after, kind) VALUES (…, -stake, …, 'bet_hold');
//! COMMIT;
//! ```
//!
//! Statements are prepared once per connection (sqlx's statement cache). The server's own
//! durability settings (`synchronous_commit`, `fsync`) are used as found and reported: with
//! the defaults every `COMMIT` waits for the WAL flush (group commit), as croupier's `fsync`
//! durability waits for its journal's.
//!
//! After the loop, in SQL: orders = accepted bets, the held money equals the orders' stakes,
//! the ledger's debits equal them too, and initial funds − available = held.

use super::{drive, BaselineReport, Error, Fact, Tally};
use crate::{Observer, Phase};
use croupier_domain::Money;
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stakes are drawn like croupier's bet scenarios: 1.00 to 100.00 in steps of 1.00.
const STAKE_STEP: i64 = 100;
const STAKE_STEPS: u64 = 100;
/// The outcomes bet on (croupier's test game has three: banker, player, tie).
const SELECTIONS: u64 = 3;
const ROUND: &str = "bench-round";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgBetsConfig {
    /// `postgres://user@host:port/db`.
    pub url: String,
    /// Concurrent connections, each running one transaction at a time.
    pub connections: usize,
    pub duration: Duration,
    /// Funded users; bettors are drawn at random among them.
    pub users: u64,
    /// What each user is funded with, minor units.
    pub funds: Money,
    pub seed: u64,
    /// Leave the schema in place for inspection.
    pub keep: bool,
}

impl PgBetsConfig {
    pub const DEFAULT_CONNECTIONS: usize = 16;
    pub const DEFAULT_USERS: u64 = 100_000;
    /// 10,000,000.00: what croupier's runtime `bets` scenario funds each account with.
    pub const DEFAULT_FUNDS: Money = Money(1_000_000_000);

    pub fn new(url: impl Into<String>) -> Self {
        PgBetsConfig {
            url: url.into(),
            connections: Self::DEFAULT_CONNECTIONS,
            duration: Duration::from_secs(10),
            users: Self::DEFAULT_USERS,
            funds: Self::DEFAULT_FUNDS,
            seed: 1,
            keep: false,
        }
    }
}

/// The statements, with the run's schema name in them (built once per run).
struct Sql {
    lock_balance: String,
    insert_order: String,
    update_balance: String,
    insert_ledger: String,
}

impl Sql {
    fn new(schema: &str) -> Sql {
        Sql {
            lock_balance: format!("SELECT available FROM {schema}.accounts WHERE user_id = $1 FOR UPDATE"),
            insert_order: format!(
                "INSERT INTO {schema}.orders (order_no, user_id, round_id, selection, stake) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id"
            ),
            update_balance: format!(
                "UPDATE {schema}.accounts SET available = available - $2, held = held + $2 \
                 WHERE user_id = $1 RETURNING available"
            ),
            insert_ledger: format!(
                "INSERT INTO {schema}.wallet_ledger (user_id, order_id, amount, balance_after, kind) \
                 VALUES ($1, $2, $3, $4, 'bet_hold')"
            ),
        }
    }
}

/// The schema, created in one batch of DDL.
pub fn schema_ddl(schema: &str) -> String {
    format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.accounts (
             user_id   bigint PRIMARY KEY,
             currency  text   NOT NULL,
             available bigint NOT NULL CHECK (available >= 0),
             held      bigint NOT NULL DEFAULT 0 CHECK (held >= 0)
         );
         CREATE TABLE {schema}.orders (
             id         bigserial PRIMARY KEY,
             order_no   text      NOT NULL UNIQUE,
             user_id    bigint    NOT NULL REFERENCES {schema}.accounts (user_id),
             round_id   text      NOT NULL,
             selection  integer   NOT NULL,
             stake      bigint    NOT NULL CHECK (stake > 0),
             status     smallint  NOT NULL DEFAULT 1,
             created_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE INDEX ON {schema}.orders (user_id);
         CREATE TABLE {schema}.wallet_ledger (
             id            bigserial PRIMARY KEY,
             user_id       bigint NOT NULL,
             order_id      bigint NOT NULL REFERENCES {schema}.orders (id),
             amount        bigint NOT NULL,
             balance_after bigint NOT NULL,
             kind          text   NOT NULL,
             created_at    timestamptz NOT NULL DEFAULT now()
         );
         CREATE INDEX ON {schema}.wallet_ledger (user_id);"
    )
}

async fn connect(url: &str) -> Result<PgConnection, Error> {
    PgConnection::connect(url).await.map_err(|e| Error::Connect {
        service: "PostgreSQL",
        url: url.to_string(),
        message: e.to_string(),
    })
}

/// Runs the baseline: setup, `connections` clients for `duration`, checks, then drops the
/// schema unless `keep` (also after a failure, so a broken run leaves nothing behind).
pub fn run(cfg: &PgBetsConfig, obs: &mut dyn Observer) -> Result<BaselineReport, Error> {
    if cfg.connections == 0 || cfg.users == 0 || cfg.duration.is_zero() {
        return Err(Error::InvalidConfig("connections, users and duration must be above zero".into()));
    }
    if cfg.funds.0 < STAKE_STEP * STAKE_STEPS as i64 {
        return Err(Error::InvalidConfig(format!(
            "funds must cover the largest stake ({}); got {} minor units",
            STAKE_STEP * STAKE_STEPS as i64,
            cfg.funds.0
        )));
    }
    let schema = super::unique_namespace("pg");
    super::runtime()?.block_on(async {
        let setup_started = Instant::now();
        let mut admin = connect(&cfg.url).await?;
        obs.phase(Phase::Setup, 0);
        sqlx::raw_sql(&schema_ddl(&schema)).execute(&mut admin).await?;
        let outcome = measure(cfg, &schema, &mut admin, setup_started, obs).await;
        let drop_schema = format!("DROP SCHEMA {schema} CASCADE");
        super::cleaned_up(outcome, cfg.keep, async { sqlx::raw_sql(&drop_schema).execute(&mut admin).await.map(drop) })
            .await
    })
}

async fn measure(
    cfg: &PgBetsConfig,
    schema: &str,
    admin: &mut PgConnection,
    setup_started: Instant,
    obs: &mut dyn Observer,
) -> Result<BaselineReport, Error> {
    sqlx::query(&format!(
        "INSERT INTO {schema}.accounts (user_id, currency, available) \
         SELECT g, 'CNY', $2 FROM generate_series(1, $1::bigint) AS g"
    ))
    .bind(cfg.users as i64)
    .bind(cfg.funds.0)
    .execute(&mut *admin)
    .await?;
    sqlx::raw_sql(&format!("ANALYZE {schema}.accounts")).execute(&mut *admin).await?;
    let mut server = Vec::new();
    for setting in ["server_version", "synchronous_commit", "fsync"] {
        let value: String = sqlx::query_scalar(&format!("SHOW {setting}")).fetch_one(&mut *admin).await?;
        server.push((setting.to_string(), value));
    }
    let mut clients = Vec::with_capacity(cfg.connections);
    for _ in 0..cfg.connections {
        clients.push(connect(&cfg.url).await?);
    }
    let setup = setup_started.elapsed();
    let sql = Arc::new(Sql::new(schema));
    let (users, seed) = (cfg.users, cfg.seed);
    let numbered: Vec<_> = clients.into_iter().enumerate().collect();
    let (tally, elapsed) = drive(numbered, cfg.duration, obs, move |(worker, mut conn), clock| {
        let sql = sql.clone();
        async move {
            let mut rng = super::client_rng(seed, worker);
            let mut tally = Tally::new();
            let mut n = 0u64;
            while clock.running() {
                let user = 1 + rng.below(users) as i64;
                let stake = STAKE_STEP * (1 + rng.below(STAKE_STEPS) as i64);
                let selection = rng.below(SELECTIONS) as i32;
                let order_no = format!("bet-{worker}-{n}");
                n += 1;
                let started = Instant::now();
                let accepted = place_bet(&mut conn, &sql, &order_no, user, selection, stake).await?;
                tally.record(started.elapsed(), 1);
                if accepted {
                    tally.accepted += 1;
                } else {
                    tally.rejected += 1;
                }
                clock.count(1);
            }
            conn.close().await?;
            Ok(tally)
        }
    })
    .await?;
    obs.phase(Phase::Verify, 0);
    verify(admin, schema, cfg, tally.accepted).await?;
    let run = (schema, cfg.keep);
    let mut report = BaselineReport::of_run("pg-bets", tally, (elapsed, setup), (cfg.connections, 1), run);
    report.server = server;
    report.facts = vec![("users", Fact::Count(cfg.users)), ("funds", Fact::Amount(cfg.funds))];
    Ok(report)
}

/// One bet, one transaction. `false`: refused for lack of funds (rolled back).
async fn place_bet(
    conn: &mut PgConnection,
    sql: &Sql,
    order_no: &str,
    user: i64,
    selection: i32,
    stake: i64,
) -> Result<bool, Error> {
    let mut tx = conn.begin().await?;
    let available: Option<i64> = sqlx::query_scalar(&sql.lock_balance).bind(user).fetch_optional(&mut *tx).await?;
    if available.is_none_or(|a| a < stake) {
        tx.rollback().await?;
        return Ok(false);
    }
    let order_id: i64 = sqlx::query_scalar(&sql.insert_order)
        .bind(order_no)
        .bind(user)
        .bind(ROUND)
        .bind(selection)
        .bind(stake)
        .fetch_one(&mut *tx)
        .await?;
    let after: i64 = sqlx::query_scalar(&sql.update_balance).bind(user).bind(stake).fetch_one(&mut *tx).await?;
    sqlx::query(&sql.insert_ledger).bind(user).bind(order_id).bind(-stake).bind(after).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// The money adds up: every accepted bet is one order and one ledger debit of its stake, held
/// on its user's account, and nothing else moved.
async fn verify(admin: &mut PgConnection, schema: &str, cfg: &PgBetsConfig, accepted: u64) -> Result<(), Error> {
    let (orders, staked, ledger_rows, ledger_sum, available, held): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(&format!(
            "SELECT (SELECT count(*) FROM {schema}.orders),
                    (SELECT coalesce(sum(stake), 0)::bigint FROM {schema}.orders),
                    (SELECT count(*) FROM {schema}.wallet_ledger),
                    (SELECT coalesce(sum(amount), 0)::bigint FROM {schema}.wallet_ledger),
                    (SELECT coalesce(sum(available), 0)::bigint FROM {schema}.accounts),
                    (SELECT coalesce(sum(held), 0)::bigint FROM {schema}.accounts)"
        ))
        .fetch_one(&mut *admin)
        .await?;
    let initial = cfg.funds.0 as i128 * cfg.users as i128;
    let checks = [
        (orders as u64 == accepted, format!("{orders} orders for {accepted} accepted bets")),
        (ledger_rows == orders, format!("{ledger_rows} ledger rows for {orders} orders")),
        (ledger_sum == -staked, format!("ledger sum {ledger_sum} for {staked} staked")),
        (held == staked, format!("{held} held for {staked} staked")),
        (
            initial - available as i128 == held as i128,
            format!("initial {initial} - available {available} != held {held}"),
        ),
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err(Error::Verification(why)),
        None => Ok(()),
    }
}
