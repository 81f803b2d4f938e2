//! The SQL side: connecting (SQLite file or PostgreSQL), migrations, reading back what a
//! restarted projector needs, and writing one [`Batch`] as one transaction.
//!
//! SQLite gets multi-row `INSERT`s of a few fixed sizes (so every statement shape stays in
//! sqlx's prepared-statement cache); PostgreSQL gets `COPY ... FROM STDIN`, and updates go
//! through `ON COMMIT DELETE ROWS` temporary tables joined in one `UPDATE`. Both write the
//! shards' positions in the same transaction as the rows.

mod tables;

use crate::rows::{Batch, GamesBatch, RoundUpdate, SeedInUse, ShardBook};
use crate::ProjectError;
use croupier_domain::ids::{AccountNo, Code, CurrencyId, ExtId, PacketNo, UserId};
use croupier_feed::CurrencyName;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use tables::{CopyLine, Table};

const SQLITE_SCHEMA: &str = include_str!("../../db/sqlite/0001_schema.sql");
const PG_SCHEMA: &str = include_str!("../../db/postgres/0001_schema.sql");
const SQLITE_GAMES: &str = include_str!("../../db/sqlite/0002_games.sql");
const PG_GAMES: &str = include_str!("../../db/postgres/0002_games.sql");
const SQLITE_SEED002: &str = include_str!("../../db/sqlite/0003_seed002.sql");
const PG_SEED002: &str = include_str!("../../db/postgres/0003_seed002.sql");

/// Tables a rebuild empties, children first; the projected ones, then `projector_position`.
pub const TABLES: &[&str] = &[
    "events",
    "currencies",
    "accounts",
    "game_round_info",
    "orders",
    "wallet_ledger",
    "cash_transfers",
    "red_packets",
    "red_packet_grabs",
    "shard_transfers",
    "balances",
    "crash_channels",
    "crash_terms",
    "crash_term_totals",
    "crash_bets",
    "instant_seeds",
    "instant_bets",
    "projector_position",
];

/// The tables that hold what was projected: all but `projector_position`.
pub const PROJECTED_TABLES: &[&str] = match TABLES.split_last() {
    Some((_, projected)) => projected,
    None => &[],
};

/// The migrations in order; a database migrated before a later one gets only what it lacks
/// (sqlx checks each applied one's checksum, so an applied file is never edited).
fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|&(version, name, sql)| {
            Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false)
        })
        .collect();
    Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
}

/// A position per shard: (journal position of the last projected command, events projected).
pub type Positions = BTreeMap<u32, (u64, u64)>;

/// Test hook: fail the write (and so roll the transaction back) after this many statements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fault {
    pub fail_after_statements: Option<u64>,
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Db {
    /// `sqlite://PATH` (created if missing) or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Db, ProjectError> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?.statement_cache_capacity(256);
            let pool = PgPoolOptions::new().max_connections(4).connect_with(opts).await?;
            Ok(Db::Pg(pool))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // WAL + NORMAL: a crash of the process loses nothing committed; a power loss
                // may lose the last transactions, which the journal re-projects (the position
                // rolls back with them).
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .statement_cache_capacity(512)
                // A bigger page cache and mmap reads: inserts walk the B-trees' right edges,
                // and without them each batch re-reads those pages with pread.
                .pragma("cache_size", "-131072")
                .pragma("mmap_size", "1073741824")
                .pragma("temp_store", "memory");
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(ProjectError::Config(format!("unsupported SQL URL {url:?}: use sqlite://PATH or postgres://...")))
        }
    }

    pub async fn migrate(&self) -> Result<(), ProjectError> {
        match self {
            Db::Sqlite(p) => {
                migrator(&[(1, "schema", SQLITE_SCHEMA), (2, "games", SQLITE_GAMES), (3, "seed002", SQLITE_SEED002)])
                    .run(p)
                    .await?
            }
            Db::Pg(p) => {
                migrator(&[(1, "schema", PG_SCHEMA), (2, "games", PG_GAMES), (3, "seed002", PG_SEED002)]).run(p).await?
            }
        }
        Ok(())
    }

    /// Empties every projected table and the positions (for `--rebuild`).
    pub async fn reset(&self) -> Result<(), ProjectError> {
        match self {
            Db::Sqlite(p) => {
                let mut tx = p.begin().await?;
                for t in TABLES {
                    sqlx::query(&format!("DELETE FROM {t}")).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Db::Pg(p) => {
                sqlx::query(&format!("TRUNCATE {}", TABLES.join(", "))).execute(p).await?;
            }
        }
        Ok(())
    }

    pub async fn positions(&self) -> Result<Positions, ProjectError> {
        let sql = "SELECT shard, position, events FROM projector_position";
        let rows = match self {
            Db::Sqlite(p) => sqlx::query(sql)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?,
            Db::Pg(p) => sqlx::query(sql)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<i32, _>(0)? as i64, r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?,
        };
        Ok(rows.into_iter().map(|(s, p, e)| (s as u32, (p as u64, e as u64))).collect())
    }

    /// What a projector resuming `shard` must remember: currencies, accounts, packets'
    /// senders and every ledger balance.
    pub async fn load_book(&self, shard: u32) -> Result<ShardBook, ProjectError> {
        let mut book = ShardBook::default();
        let s = shard as i64;
        let (q1, q2, q3, q4) = match self {
            Db::Sqlite(_) => (
                "SELECT currency, code, exponent FROM currencies WHERE shard = ? ORDER BY currency",
                "SELECT account_no, user_id, currency FROM accounts WHERE shard = ? ORDER BY account_no",
                "SELECT packet_no, account_no, packet_id FROM red_packets WHERE shard = ? ORDER BY packet_no",
                "SELECT account_kind, account_ref, currency, balance FROM balances WHERE shard = ?",
            ),
            Db::Pg(_) => (
                "SELECT currency::int8, code, exponent::int8 FROM currencies WHERE shard = $1 ORDER BY currency",
                "SELECT account_no::int8, user_id, currency FROM accounts WHERE shard = $1 ORDER BY account_no",
                "SELECT packet_no::int8, account_no::int8, packet_id FROM red_packets WHERE shard = $1 ORDER BY packet_no",
                "SELECT account_kind, account_ref, currency, balance FROM balances WHERE shard = $1",
            ),
        };
        macro_rules! fetch {
            ($sql:expr) => {
                match self {
                    Db::Sqlite(p) => sqlx::query($sql)
                        .bind(s)
                        .fetch_all(p)
                        .await?
                        .into_iter()
                        .map(AnyRow::Sqlite)
                        .collect::<Vec<_>>(),
                    Db::Pg(p) => sqlx::query($sql)
                        .bind(s as i32)
                        .fetch_all(p)
                        .await?
                        .into_iter()
                        .map(AnyRow::Pg)
                        .collect::<Vec<_>>(),
                }
            };
        }
        // Our own rows, yet read as untrusted: a damaged table must stop the projector with
        // its name, not restore a directory that names the wrong player.
        let bad = |what: String| ProjectError::Data(format!("shard {shard}: {what}"));
        let number = |table: &str, n: i64| u32::try_from(n).map_err(|_| bad(format!("{table} row number {n}")));
        for r in fetch!(q1) {
            let i = number("currencies", r.i64(0)?)?;
            let code = r.text(1)?;
            let name = CurrencyName {
                code: Code::new(&code).map_err(|e| bad(format!("currency {i} has code {code:?}: {e}")))?,
                exponent: u8::try_from(r.i64(2)?).map_err(|_| bad(format!("currency {i} has no valid exponent")))?,
            };
            book.dir.set_currency(CurrencyId(i), name);
        }
        for r in fetch!(q2) {
            let i = number("accounts", r.i64(0)?)?;
            let code = r.text(2)?;
            let cur =
                book.dir.currency_by_code(&code).ok_or_else(|| bad(format!("account {i} has currency {code:?}")))?;
            // Written by `rows::user_column`, never negative; checked rather than cast back.
            let user = u64::try_from(r.i64(1)?).map_err(|_| bad(format!("account {i} has a negative user_id")))?;
            book.dir.set_account(AccountNo(i), UserId(user), cur);
        }
        for r in fetch!(q3) {
            let i = number("red_packets", r.i64(0)?)?;
            let sender = number("red_packets account", r.i64(1)?)?;
            let id = r.text(2)?;
            let id = ExtId::new(&id).map_err(|e| bad(format!("packet {i} has id {id:?}: {e}")))?;
            book.dir.set_packet(PacketNo(i), id, AccountNo(sender));
        }
        let (q5, q6, q7) = match self {
            Db::Sqlite(_) => (
                "SELECT channel_no, currencies FROM crash_channels WHERE shard = ?",
                "SELECT term_no, channel_no FROM crash_terms WHERE shard = ? AND status NOT IN ('closed', 'cancelled')",
                "SELECT s.user_id, s.seed_no, s.server_seed_hash, s.client_seed, s.position FROM instant_seeds s \
                 WHERE s.shard = ?1 AND s.seed_no = (SELECT MAX(seed_no) FROM instant_seeds m \
                 WHERE m.shard = ?1 AND m.user_id = s.user_id)",
            ),
            Db::Pg(_) => (
                "SELECT channel_no::int8, currencies FROM crash_channels WHERE shard = $1",
                "SELECT term_no::int8, channel_no::int8 FROM crash_terms WHERE shard = $1 \
                 AND status NOT IN ('closed', 'cancelled')",
                "SELECT DISTINCT ON (user_id) user_id, seed_no::int8, server_seed_hash, client_seed, position \
                 FROM instant_seeds WHERE shard = $1 ORDER BY user_id, seed_no DESC",
            ),
        };
        for r in fetch!(q5) {
            let i = number("crash_channels", r.i64(0)?)?;
            let codes = r.text(1)?;
            book.games.channels.insert(i, codes.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect());
        }
        for r in fetch!(q6) {
            let term = number("crash_terms", r.i64(0)?)?;
            book.games.term_channel.insert(term, number("crash_terms channel", r.i64(1)?)?);
        }
        for r in fetch!(q7) {
            let user = u64::try_from(r.i64(0)?).map_err(|_| bad("instant_seeds has a negative user_id".into()))?;
            let seed_no = number("instant_seeds", r.i64(1)?)?;
            let position = u64::try_from(r.i64(4)?).map_err(|_| bad("instant_seeds has a negative position".into()))?;
            // The seed itself is in no row: read back from the journal if a rotation reveals it.
            let seed = SeedInUse { seed_no, hash: r.text(2)?, client_seed: r.text(3)?, position, secret: None };
            book.games.seeds.insert(user, seed);
        }
        for r in fetch!(q4) {
            let (kind, reference, currency) = (r.text(0)?, r.i64(1)?, r.text(2)?);
            let account = book.ledger_account(&kind, reference, &currency).ok_or_else(|| {
                ProjectError::Data(format!("balances row of shard {shard} names an unknown account {kind}/{reference}"))
            })?;
            book.balances.insert(account, r.i64(3)?);
        }
        Ok(book)
    }

    /// Writes `batch` and the positions it reached in one transaction.
    pub async fn write(&self, batch: &Batch, fault: Fault) -> Result<(), ProjectError> {
        let mut budget = Budget(fault.fail_after_statements);
        match self {
            Db::Sqlite(p) => write_sqlite(p, batch, &mut budget).await,
            Db::Pg(p) => write_pg(p, batch, &mut budget).await,
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }

    /// Runs a query returning one integer (tests and `status`).
    pub async fn scalar(&self, sql: &str) -> Result<i64, ProjectError> {
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?,
            Db::Pg(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?,
        })
    }

    /// Runs one statement (tests, administration).
    pub async fn execute(&self, sql: &str) -> Result<(), ProjectError> {
        match self {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop)?,
            Db::Pg(p) => sqlx::query(sql).execute(p).await.map(drop)?,
        }
        Ok(())
    }

    /// Rows of (text, integer) pairs (tests and `status`).
    pub async fn pairs(&self, sql: &str) -> Result<Vec<(String, i64)>, ProjectError> {
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_as::<_, (String, i64)>(sql).fetch_all(p).await?,
            Db::Pg(p) => sqlx::query_as::<_, (String, i64)>(sql).fetch_all(p).await?,
        })
    }
}

enum AnyRow {
    Sqlite(sqlx::sqlite::SqliteRow),
    Pg(sqlx::postgres::PgRow),
}

impl AnyRow {
    fn i64(&self, i: usize) -> Result<i64, sqlx::Error> {
        match self {
            AnyRow::Sqlite(r) => r.try_get(i),
            AnyRow::Pg(r) => r.try_get(i),
        }
    }
    fn text(&self, i: usize) -> Result<String, sqlx::Error> {
        match self {
            AnyRow::Sqlite(r) => r.try_get(i),
            AnyRow::Pg(r) => r.try_get(i),
        }
    }
}

struct Budget(Option<u64>);

impl Budget {
    fn spend(&mut self) -> Result<(), ProjectError> {
        if let Some(n) = &mut self.0 {
            if *n == 0 {
                return Err(ProjectError::Injected);
            }
            *n -= 1;
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

// ---------------------------------------------------------------- SQLite

/// Rows per multi-row statement (at most 15 columns × 1024 rows, under SQLite's 32766 bound
/// parameters); smaller remainders use halving sizes, so a table needs at most 11 statement
/// shapes, all kept prepared. Large statements matter: each one is a round trip to sqlx's
/// SQLite worker thread.
const SQLITE_CHUNK: usize = 1024;

fn insert_sql<T: Table>(rows: usize) -> String {
    let one = format!("({})", vec!["?"; T::COLS.len()].join(","));
    let mut s = format!("INSERT INTO {} ({}) VALUES ", T::NAME, T::COLS.join(","));
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&one);
    }
    s.push_str(T::ON_CONFLICT);
    s
}

/// The statement text for `rows` rows of `T`, built once per process (leaked: a bounded set).
fn sql_cache<T: Table>(rows: usize) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<std::collections::HashMap<(&'static str, usize), &'static str>>> = OnceLock::new();
    let mut map = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    map.entry((T::NAME, rows)).or_insert_with(|| Box::leak(insert_sql::<T>(rows).into_boxed_str()))
}

async fn insert_sqlite<T: Table>(
    conn: &mut sqlx::SqliteConnection,
    rows: &[T],
    budget: &mut Budget,
) -> Result<(), ProjectError> {
    let mut rest = rows;
    while !rest.is_empty() {
        let mut n = SQLITE_CHUNK;
        while n > rest.len() {
            n /= 2;
        }
        let (chunk, tail) = rest.split_at(n);
        budget.spend()?;
        let sql = sql_cache::<T>(n);
        let mut q = sqlx::query(sql);
        for r in chunk {
            q = r.bind(q);
        }
        q.execute(&mut *conn).await?;
        rest = tail;
    }
    Ok(())
}

async fn write_sqlite(pool: &SqlitePool, b: &Batch, budget: &mut Budget) -> Result<(), ProjectError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    insert_sqlite(&mut tx, &b.events, budget).await?;
    insert_sqlite(&mut tx, &b.currencies, budget).await?;
    insert_sqlite(&mut tx, &b.accounts, budget).await?;
    insert_sqlite(&mut tx, &b.rounds, budget).await?;
    insert_sqlite(&mut tx, &b.orders, budget).await?;
    insert_sqlite(&mut tx, &b.ledger, budget).await?;
    insert_sqlite(&mut tx, &b.cash, budget).await?;
    insert_sqlite(&mut tx, &b.packets, budget).await?;
    insert_sqlite(&mut tx, &b.grabs, budget).await?;
    insert_sqlite(&mut tx, &b.transfers, budget).await?;
    for u in &b.round_updates {
        budget.spend()?;
        round_update_sqlite(&mut tx, u).await?;
    }
    for s in &b.order_settles {
        budget.spend()?;
        sqlx::query(
            "UPDATE orders SET bill_status = ?, outcome = ?, payout = ?, settled_at = ? WHERE shard = ? AND bet_id = ?",
        )
        .bind(s.bill_status)
        .bind(s.outcome)
        .bind(s.payout)
        .bind(s.settled_at)
        .bind(s.shard)
        .bind(s.bet_id)
        .execute(&mut *tx)
        .await?;
    }
    for ((shard, packet), d) in &b.packet_deltas {
        budget.spend()?;
        sqlx::query(
            "UPDATE red_packets SET grabbed = grabbed + ?1, remaining = remaining - ?2 - COALESCE(?3, 0), \
             refund = COALESCE(?3, refund), \
             status = CASE WHEN ?3 IS NOT NULL THEN 'expired' WHEN grabbed + ?1 >= shares THEN 'exhausted' ELSE status END \
             WHERE shard = ?4 AND packet_no = ?5",
        )
        .bind(d.grabbed)
        .bind(d.taken)
        .bind(d.expired_refund)
        .bind(shard)
        .bind(packet)
        .execute(&mut *tx)
        .await?;
    }
    insert_sqlite(&mut tx, &b.balances, budget).await?;
    games_sqlite(&mut tx, &b.games, budget).await?;
    let now = now_ms();
    for &(shard, position, events) in &b.positions {
        budget.spend()?;
        sqlx::query(
            "INSERT INTO projector_position (shard, position, events, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (shard) DO UPDATE SET position = ?2, events = projector_position.events + ?3, updated_at = ?4",
        )
        .bind(shard)
        .bind(position as i64)
        .bind(events as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    budget.spend()?;
    tx.commit().await?;
    Ok(())
}

/// The games' rows: new rows first, then the changes to rows of earlier transactions.
async fn games_sqlite(
    conn: &mut sqlx::SqliteConnection,
    g: &GamesBatch,
    budget: &mut Budget,
) -> Result<(), ProjectError> {
    insert_sqlite(conn, &g.channels, budget).await?;
    insert_sqlite(conn, &g.terms, budget).await?;
    insert_sqlite(conn, &g.totals, budget).await?;
    insert_sqlite(conn, &g.crash_bets, budget).await?;
    insert_sqlite(conn, &g.seeds, budget).await?;
    insert_sqlite(conn, &g.instant_bets, budget).await?;
    for &(shard, channel, paused) in &g.pauses {
        budget.spend()?;
        sqlx::query("UPDATE crash_channels SET paused = ? WHERE shard = ? AND channel_no = ?")
            .bind(paused)
            .bind(shard)
            .bind(channel)
            .execute(&mut *conn)
            .await?;
    }
    for r in &g.reveals {
        budget.spend()?;
        sqlx::query("UPDATE instant_seeds SET server_seed = ? WHERE shard = ? AND user_id = ? AND seed_no = ?")
            .bind(&r.server_seed)
            .bind(r.shard)
            .bind(r.user_id)
            .bind(r.seed_no)
            .execute(&mut *conn)
            .await?;
    }
    for u in &g.term_updates {
        budget.spend()?;
        let c = &u.change;
        sqlx::query(
            "UPDATE crash_terms SET status = COALESCE(?, status), starting_at = COALESCE(?, starting_at), \
             took_off_at = COALESCE(?, took_off_at), game = COALESCE(?, game), hash = COALESCE(?, hash), \
             crash_point = COALESCE(?, crash_point), crashed_at = COALESCE(?, crashed_at), \
             ended_at = COALESCE(?, ended_at) WHERE shard = ? AND term_no = ?",
        )
        .bind(c.status)
        .bind(c.starting_at)
        .bind(c.took_off_at)
        .bind(c.game)
        .bind(c.hash.as_deref())
        .bind(c.crash_point)
        .bind(c.crashed_at)
        .bind(c.ended_at)
        .bind(u.shard)
        .bind(u.term_no)
        .execute(&mut *conn)
        .await?;
    }
    // A crash settles every bet of a term in one command: the changes go into a temporary
    // table in multi-row inserts and are applied by one `UPDATE ... FROM` each, not one
    // statement per bet.
    if !g.crash_settles.is_empty() {
        budget.spend()?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_crash_settle (shard INTEGER, bet_no INTEGER, status TEXT, \
             multiplier INTEGER, payout INTEGER, cashout_kind TEXT, settled_at INTEGER)",
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM tmp_crash_settle").execute(&mut *conn).await?;
        insert_sqlite(conn, &g.crash_settles, budget).await?;
        budget.spend()?;
        sqlx::query(
            "UPDATE crash_bets SET status = t.status, multiplier = t.multiplier, payout = t.payout, \
             cashout_kind = t.cashout_kind, settled_at = t.settled_at FROM tmp_crash_settle t \
             WHERE crash_bets.shard = t.shard AND crash_bets.bet_no = t.bet_no",
        )
        .execute(&mut *conn)
        .await?;
    }
    if !g.instant_changes.is_empty() {
        budget.spend()?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_instant_change (shard INTEGER, bet_no INTEGER, revealed INTEGER, \
             stake_add INTEGER, max_payout INTEGER, payout INTEGER, status TEXT, settle_reason TEXT, \
             mine_tile INTEGER, settled_at INTEGER)",
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM tmp_instant_change").execute(&mut *conn).await?;
        insert_sqlite(conn, &g.instant_changes, budget).await?;
        budget.spend()?;
        sqlx::query(
            "UPDATE instant_bets SET revealed = instant_bets.revealed | t.revealed, \
             stake = instant_bets.stake + t.stake_add, max_payout = COALESCE(t.max_payout, instant_bets.max_payout), \
             payout = COALESCE(t.payout, instant_bets.payout), status = COALESCE(t.status, instant_bets.status), \
             settle_reason = COALESCE(t.settle_reason, instant_bets.settle_reason), \
             mine_tile = COALESCE(t.mine_tile, instant_bets.mine_tile), \
             settled_at = COALESCE(t.settled_at, instant_bets.settled_at) \
             FROM tmp_instant_change t WHERE instant_bets.shard = t.shard AND instant_bets.bet_no = t.bet_no",
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn round_update_sqlite(conn: &mut sqlx::SqliteConnection, u: &RoundUpdate) -> Result<(), ProjectError> {
    match u {
        RoundUpdate::Status { shard, round_no, status, at } => {
            sqlx::query(
                "UPDATE game_round_info SET game_status = ?1, \
                 bet_stop_time = CASE WHEN ?1 = 3 THEN ?2 ELSE bet_stop_time END, \
                 ended_at = CASE WHEN ?1 = 6 THEN ?2 ELSE ended_at END WHERE shard = ?3 AND round_no = ?4",
            )
            .bind(status)
            .bind(at)
            .bind(shard)
            .bind(round_no)
            .execute(conn)
            .await?;
        }
        RoundUpdate::Drawn { shard, round_no, result, corrected, at } => {
            sqlx::query(
                "UPDATE game_round_info SET game_status = 5, game_draw_time = ?1, draw_result = ?2, \
                 corrected = corrected OR ?3 WHERE shard = ?4 AND round_no = ?5",
            )
            .bind(at)
            .bind(result)
            .bind(corrected)
            .bind(shard)
            .bind(round_no)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- PostgreSQL

async fn copy_pg<T: Table>(
    conn: &mut sqlx::PgConnection,
    table: &str,
    rows: &[T],
    buf: &mut String,
    budget: &mut Budget,
) -> Result<(), ProjectError> {
    if rows.is_empty() {
        return Ok(());
    }
    budget.spend()?;
    buf.clear();
    for r in rows {
        r.copy(&mut CopyLine::new(buf));
    }
    let mut copy = conn.copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", T::COLS.join(","))).await?;
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// The games' rows: `COPY` for new rows and for the changes to bets of earlier transactions
/// (a crash settles every bet of a term at once), joined in one `UPDATE` each.
async fn games_pg(
    conn: &mut sqlx::PgConnection,
    g: &GamesBatch,
    buf: &mut String,
    budget: &mut Budget,
) -> Result<(), ProjectError> {
    copy_pg(conn, "crash_channels", &g.channels, buf, budget).await?;
    copy_pg(conn, "crash_terms", &g.terms, buf, budget).await?;
    copy_pg(conn, "crash_term_totals", &g.totals, buf, budget).await?;
    copy_pg(conn, "crash_bets", &g.crash_bets, buf, budget).await?;
    copy_pg(conn, "instant_seeds", &g.seeds, buf, budget).await?;
    copy_pg(conn, "instant_bets", &g.instant_bets, buf, budget).await?;
    for &(shard, channel, paused) in &g.pauses {
        budget.spend()?;
        sqlx::query("UPDATE crash_channels SET paused = $1 WHERE shard = $2 AND channel_no = $3")
            .bind(paused)
            .bind(shard as i32)
            .bind(channel as i32)
            .execute(&mut *conn)
            .await?;
    }
    for r in &g.reveals {
        budget.spend()?;
        sqlx::query("UPDATE instant_seeds SET server_seed = $1 WHERE shard = $2 AND user_id = $3 AND seed_no = $4")
            .bind(&r.server_seed)
            .bind(r.shard as i32)
            .bind(r.user_id)
            .bind(r.seed_no as i32)
            .execute(&mut *conn)
            .await?;
    }
    for u in &g.term_updates {
        budget.spend()?;
        let c = &u.change;
        sqlx::query(
            "UPDATE crash_terms SET status = COALESCE($1, status), starting_at = COALESCE($2, starting_at), \
             took_off_at = COALESCE($3, took_off_at), game = COALESCE($4, game), hash = COALESCE($5, hash), \
             crash_point = COALESCE($6, crash_point), crashed_at = COALESCE($7, crashed_at), \
             ended_at = COALESCE($8, ended_at) WHERE shard = $9 AND term_no = $10",
        )
        .bind(c.status)
        .bind(c.starting_at)
        .bind(c.took_off_at)
        .bind(c.game)
        .bind(c.hash.as_deref())
        .bind(c.crash_point)
        .bind(c.crashed_at)
        .bind(c.ended_at)
        .bind(u.shard as i32)
        .bind(u.term_no as i32)
        .execute(&mut *conn)
        .await?;
    }
    if !g.crash_settles.is_empty() {
        budget.spend()?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_crash_settle (shard INTEGER, bet_no INTEGER, status TEXT, \
             multiplier BIGINT, payout BIGINT, cashout_kind TEXT, settled_at BIGINT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *conn)
        .await?;
        copy_pg(conn, "tmp_crash_settle", &g.crash_settles, buf, budget).await?;
        sqlx::query(
            "UPDATE crash_bets b SET status = t.status, multiplier = t.multiplier, payout = t.payout, \
             cashout_kind = t.cashout_kind, settled_at = t.settled_at FROM tmp_crash_settle t \
             WHERE b.shard = t.shard AND b.bet_no = t.bet_no",
        )
        .execute(&mut *conn)
        .await?;
    }
    if !g.instant_changes.is_empty() {
        budget.spend()?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_instant_change (shard INTEGER, bet_no INTEGER, revealed BIGINT, \
             stake_add BIGINT, max_payout BIGINT, payout BIGINT, status TEXT, settle_reason TEXT, mine_tile BIGINT, \
             settled_at BIGINT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *conn)
        .await?;
        copy_pg(conn, "tmp_instant_change", &g.instant_changes, buf, budget).await?;
        sqlx::query(
            "UPDATE instant_bets b SET revealed = b.revealed | t.revealed, stake = b.stake + t.stake_add, \
             max_payout = COALESCE(t.max_payout, b.max_payout), payout = COALESCE(t.payout, b.payout), \
             status = COALESCE(t.status, b.status), settle_reason = COALESCE(t.settle_reason, b.settle_reason), \
             mine_tile = COALESCE(t.mine_tile, b.mine_tile), settled_at = COALESCE(t.settled_at, b.settled_at) \
             FROM tmp_instant_change t WHERE b.shard = t.shard AND b.bet_no = t.bet_no",
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn write_pg(pool: &PgPool, b: &Batch, budget: &mut Budget) -> Result<(), ProjectError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut buf = String::with_capacity(1 << 20);
    let buf = &mut buf;
    copy_pg(&mut tx, "events", &b.events, buf, budget).await?;
    copy_pg(&mut tx, "currencies", &b.currencies, buf, budget).await?;
    copy_pg(&mut tx, "accounts", &b.accounts, buf, budget).await?;
    copy_pg(&mut tx, "game_round_info", &b.rounds, buf, budget).await?;
    copy_pg(&mut tx, "orders", &b.orders, buf, budget).await?;
    copy_pg(&mut tx, "wallet_ledger", &b.ledger, buf, budget).await?;
    copy_pg(&mut tx, "cash_transfers", &b.cash, buf, budget).await?;
    copy_pg(&mut tx, "red_packets", &b.packets, buf, budget).await?;
    copy_pg(&mut tx, "red_packet_grabs", &b.grabs, buf, budget).await?;
    copy_pg(&mut tx, "shard_transfers", &b.transfers, buf, budget).await?;
    for u in &b.round_updates {
        budget.spend()?;
        match u {
            RoundUpdate::Status { shard, round_no, status, at } => {
                sqlx::query(
                    "UPDATE game_round_info SET game_status = $1, \
                     bet_stop_time = CASE WHEN $1 = 3 THEN $2 ELSE bet_stop_time END, \
                     ended_at = CASE WHEN $1 = 6 THEN $2 ELSE ended_at END WHERE shard = $3 AND round_no = $4",
                )
                .bind(status)
                .bind(at)
                .bind(*shard as i32)
                .bind(*round_no as i32)
                .execute(&mut *tx)
                .await?;
            }
            RoundUpdate::Drawn { shard, round_no, result, corrected, at } => {
                sqlx::query(
                    "UPDATE game_round_info SET game_status = 5, game_draw_time = $1, draw_result = $2, \
                     corrected = corrected OR $3 WHERE shard = $4 AND round_no = $5",
                )
                .bind(at)
                .bind(result)
                .bind(corrected)
                .bind(*shard as i32)
                .bind(*round_no as i32)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    if !b.order_settles.is_empty() {
        budget.spend()?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_settle (shard INTEGER, bet_id INTEGER, bill_status SMALLINT, \
             outcome TEXT, payout BIGINT, settled_at BIGINT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await?;
        copy_pg(&mut tx, "tmp_settle", &b.order_settles, buf, budget).await?;
        sqlx::query(
            "UPDATE orders o SET bill_status = t.bill_status, outcome = t.outcome, payout = t.payout, \
             settled_at = t.settled_at FROM tmp_settle t WHERE o.shard = t.shard AND o.bet_id = t.bet_id",
        )
        .execute(&mut *tx)
        .await?;
    }
    for ((shard, packet), d) in &b.packet_deltas {
        budget.spend()?;
        sqlx::query(
            "UPDATE red_packets SET grabbed = grabbed + $1, remaining = remaining - $2 - COALESCE($3, 0), \
             refund = COALESCE($3, refund), \
             status = CASE WHEN $3 IS NOT NULL THEN 'expired' WHEN grabbed + $1 >= shares THEN 'exhausted' ELSE status END \
             WHERE shard = $4 AND packet_no = $5",
        )
        .bind(d.grabbed)
        .bind(d.taken)
        .bind(d.expired_refund)
        .bind(*shard as i32)
        .bind(*packet as i32)
        .execute(&mut *tx)
        .await?;
    }
    if !b.balances.is_empty() {
        budget.spend()?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS tmp_balances (shard INTEGER, account_kind TEXT, account_ref BIGINT, \
             currency TEXT, balance BIGINT) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await?;
        copy_pg(&mut tx, "tmp_balances", &b.balances, buf, budget).await?;
        sqlx::query(
            "INSERT INTO balances SELECT * FROM tmp_balances \
             ON CONFLICT (shard, account_kind, account_ref, currency) DO UPDATE SET balance = EXCLUDED.balance",
        )
        .execute(&mut *tx)
        .await?;
    }
    games_pg(&mut tx, &b.games, buf, budget).await?;
    let now = now_ms();
    for &(shard, position, events) in &b.positions {
        budget.spend()?;
        sqlx::query(
            "INSERT INTO projector_position (shard, position, events, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (shard) DO UPDATE SET position = $2, events = projector_position.events + $3, updated_at = $4",
        )
        .bind(shard as i32)
        .bind(position as i64)
        .bind(events as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    budget.spend()?;
    tx.commit().await?;
    Ok(())
}
