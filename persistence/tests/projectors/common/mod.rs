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
    /// The crash and instant games' rows as the engine's state has them.
    pub games: GameFacts,
    /// Events journaled per shard.
    pub events: u64,
    pub transfers: u64,
}

/// Runs `commands` generated commands (deposits, withdrawals, rounds with bets and draws, red
/// packets grabbed across shards) through a runtime of `shards` shards writing `dir`, and
/// returns the engine's balances at the end.
/// The runtime of the persistence tests over `dir` (a new folder, or one to continue).
pub fn start_runtime(dir: &Path, shards: usize, now: Timestamp) -> (Runtime, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now));
    let mut cfg = RuntimeConfig::new(dir);
    cfg.shards = shards;
    cfg.durability = Durability::Process;
    cfg.clock = clock.clone();
    cfg.segment_bytes = 256 * 1024;
    cfg.snapshot_every_records = None;
    let (rt, _) = Runtime::start(cfg).expect("runtime starts");
    (rt, clock)
}

/// Commits seed pair `n` for player `u` (a distinct seed for every player and `n`).
pub fn rotate_seed(u: u64, n: u8) -> Command {
    use croupier_domain::instant::{ClientSeed, InstantCommand, ServerSeed};
    Command::Instant(InstantCommand::RotateSeed {
        user: croupier_domain::UserId(u),
        server_seed: ServerSeed([n.wrapping_mul(31).wrapping_add(u as u8); 32]),
        client_seed: ClientSeed::new(&format!("client{u}x{n}")).expect("client seed"),
    })
}

/// The games' facts of every shard of a running runtime.
pub fn game_facts(rt: &Runtime, shards: usize) -> GameFacts {
    let mut games = GameFacts::default();
    for shard in 0..shards {
        games.extend(rt.inspect(shard, move |s: &State| GameFacts::of_state(shard as u32, s)).expect("ring has room"));
    }
    games
}

pub fn build_history(dir: &Path, shards: usize, commands: u64, seed: u64) -> History {
    let (rt, clock) = start_runtime(dir, shards, Timestamp(1_700_000_000_000));
    for cmd in setup_commands(default_limits()) {
        rt.call(cmd.clone()).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"));
    }
    let mut g = Generator::new(seed, 200);
    for _ in 0..commands {
        let cmd: Command = g.next_command();
        let _ = rt.call(cmd);
        clock.advance_ms(7);
    }
    play_games(&rt, &clock);
    assert!(rt.wait_transfers_settled(Duration::from_secs(20)), "transfers settle");
    let games = game_facts(&rt, shards);
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
    History { balances, games, events, transfers }
}

/// Crash terms (one stopped in flight, one whose bets all were cancelled by their players on
/// some shard, the others crashed with manual, auto and limit cashouts and losses) and
/// instant bets of every game (dice and keno settled at the bet, plinko confirmed or left
/// pending, mines revealed and cashed out or lost, seeds rotated) after the generated traffic.
fn play_games(rt: &Runtime, clock: &ManualClock) {
    use croupier_domain::crash::testkit as crash;
    use croupier_domain::crash::{curve, fair, ChannelConfig, CrashCommand};
    use croupier_domain::instant::blackjack::Action;
    use croupier_domain::instant::dice::DiceCall;
    use croupier_domain::instant::keno::{KenoRisk, Picks};
    use croupier_domain::instant::plinko::PlinkoRisk;
    use croupier_domain::instant::{GameParams, InstantBet, InstantCommand, InstantConfig, InstantLimits};
    use croupier_domain::testkit::{code, deposit, id, CURRENCY};
    use croupier_domain::{Money, UserId};
    let ok = |cmd: Command| {
        rt.call(cmd.clone()).unwrap_or_else(|r| panic!("{cmd:?} refused: {r}"));
    };
    let players = 1..=12u64;
    for u in players.clone() {
        ok(deposit(u, 5_000_000, 10_000_000 + u));
    }
    // Crash: three terms on a committed chain.
    let chain = crash::chain("projectors", 10);
    ok(crash::create_channel(&chain, ChannelConfig::seed_001(vec![crash::limits()])));
    for number in 1..=3u64 {
        ok(crash::open(number));
        let order = |u: u64| id(&format!("t{number}u{u}"));
        for u in players.clone() {
            let target = match u % 3 {
                0 => Some(150),
                1 => Some(101 + 37 * u),
                _ => None,
            };
            ok(crash::bet(u, order(u), 100 * (u as i64 + 1), target));
        }
        // Players 11 and 12 take their bets back.
        for u in [11, 12] {
            ok(Command::Crash(CrashCommand::CancelBet { user: UserId(u), order_no: order(u) }));
        }
        clock.advance_ms(8_000);
        ok(crash::close_bets(number));
        clock.advance_ms(2_000);
        let hash = chain.game(number).expect("the chain is long enough");
        ok(crash::take_off(number, hash));
        if number == 3 {
            clock.advance_ms(1);
            ok(crash::stop(number));
            break;
        }
        // Manual cashouts a little after take-off: won or lost, as the crash point decides.
        clock.advance_ms(600);
        for u in players.clone().filter(|u| u % 3 == 2) {
            let _ = rt.call(crash::cashout(u, order(u)));
        }
        let point = fair::crash_point(&hash, crash::salt().as_bytes());
        clock.advance_ms(curve::elapsed_to_reach(point) + 1);
        ok(crash::crash(number));
        clock.advance_ms(3_000);
    }
    // Instant games.
    let mut config = InstantConfig::stake_defaults();
    config.limits.push(InstantLimits {
        currency: code(CURRENCY),
        min_stake: Money(1),
        max_stake: Money(1_000_000),
        max_win: Money(50_000_000),
    });
    ok(Command::Instant(InstantCommand::Configure(Box::new(config))));
    let rotate = rotate_seed;
    let bet = |u: u64, name: &str, stake: i64, game: GameParams| {
        Command::Instant(InstantCommand::Bet(InstantBet {
            id: id(name),
            user: UserId(u),
            currency: code(CURRENCY),
            stake: Money(stake),
            game,
        }))
    };
    for u in players.clone() {
        ok(rotate(u, 1));
        for k in 0..3u64 {
            let call = DiceCall { target: 1_000 + 2_000 * k as u16, over: (u + k) % 2 == 0 };
            ok(bet(u, &format!("d{u}x{k}"), 100 + k as i64, GameParams::Dice(call)));
        }
        let picks = Picks::new(&[u as u8 + 8, 7, 21, 33]).expect("picks");
        ok(bet(u, &format!("k{u}"), 250, GameParams::Keno { risk: KenoRisk::Medium, picks }));
        ok(bet(u, &format!("p{u}"), 300, GameParams::Plinko { rows: 8 + (u % 9) as u8, risk: PlinkoRisk::High }));
        if u % 2 == 0 {
            ok(Command::Instant(InstantCommand::Settle { user: UserId(u), id: id(&format!("p{u}")) }));
        }
        let mines = format!("m{u}");
        ok(bet(u, &mines, 500, GameParams::Mines { mines: 3 }));
        // Reveal until a mine ends the game or three gems are found, then cash out.
        for tile in 0..3u8 {
            let reveal =
                Command::Instant(InstantCommand::Reveal { user: UserId(u), id: id(&mines), tile: tile + u as u8 });
            if rt.call(reveal).is_err() {
                break;
            }
        }
        let _ = rt.call(Command::Instant(InstantCommand::CashOut { user: UserId(u), id: id(&mines) }));
        // Blackjack: insurance declined if offered, a double (a second stake), a stand if the
        // double was refused; every refusal here is a game that ended earlier. Then a game the
        // operator refunds (refused when it ended at the deal).
        let blackjack = format!("b{u}");
        ok(bet(u, &blackjack, 400, GameParams::Blackjack));
        for action in [Action::Insurance { take: false }, Action::Double, Action::Stand] {
            let act = InstantCommand::Act { user: UserId(u), id: id(&blackjack), step: None, action };
            let _ = rt.call(Command::Instant(act));
        }
        let refunded = format!("r{u}");
        ok(bet(u, &refunded, 450, GameParams::Blackjack));
        let _ = rt.call(Command::Instant(InstantCommand::Refund { user: UserId(u), id: id(&refunded) }));
        clock.advance_ms(5);
        if u % 3 == 0 {
            ok(rotate(u, 2));
            ok(bet(u, &format!("d{u}r"), 120, GameParams::Dice(DiceCall { target: 5_000, over: true })));
        }
    }
}

/// The games' rows as text keys, read from the engine's state (one shard) or from SQL, so the
/// two can be compared whole.
#[derive(Debug, Default, PartialEq)]
pub struct GameFacts {
    /// `shard:term:status:crash_point`.
    pub terms: std::collections::BTreeSet<String>,
    /// `shard:bet:term:user:stake:status:payout`.
    pub crash_bets: std::collections::BTreeSet<String>,
    /// `shard:bet:user:nonce:seed_no:server_seed_hash:stake:status:payout`.
    pub instant_bets: std::collections::BTreeSet<String>,
    /// `shard:user:seed_no:server_seed_hash:client_seed:revealed seed` (`-` while in use).
    pub seeds: std::collections::BTreeSet<String>,
    /// What no row may hold: the server seeds in use and the hashes of flights that never
    /// crashed, as hex. Not compared with SQL (`of_sql` leaves it empty).
    pub secrets: std::collections::BTreeSet<String>,
}

impl GameFacts {
    pub fn of_state(shard: u32, s: &State) -> GameFacts {
        use croupier_domain::crash::{CrashBetState, TermStatus};
        use croupier_domain::instant::Phase;
        let mut f = GameFacts::default();
        let c = s.crash();
        for (i, t) in c.terms().iter().enumerate() {
            let status = match t.status {
                // The projection has no `crashed` term at the end of a command: crash and close
                // are one command.
                TermStatus::Closed => "closed",
                other => other.name(),
            };
            let point = t.revealed().filter(|_| t.status == TermStatus::Closed).map(|f| f.crash_point.to_string());
            f.terms.insert(format!("{shard}:{i}:{status}:{}", point.as_deref().unwrap_or("-")));
            if let (Some(flight), TermStatus::Cancelled) = (&t.flight, t.status) {
                f.secrets.insert(croupier_domain::crash::fair::to_hex(&flight.hash));
            }
        }
        for (i, b) in c.bets().iter().enumerate() {
            let payout = match b.state {
                CrashBetState::CashedOut { payout, .. } => payout.0.to_string(),
                CrashBetState::Lost => "0".into(),
                CrashBetState::Open | CrashBetState::Cancelled | CrashBetState::Refunded => "-".into(),
            };
            f.crash_bets.insert(format!(
                "{shard}:{i}:{}:{}:{}:{}:{payout}",
                b.term.0,
                b.user.0,
                b.stake.0,
                b.state.name()
            ));
        }
        let inst = s.instant();
        for (i, b) in inst.bets().iter().enumerate() {
            let user = s.account(b.account).user;
            let hash = inst.player(user).expect("a bettor has seeds").pairs[b.seed_no as usize].server_seed.hash();
            let (status, payout) = match b.state {
                Phase::Open => ("open", "-".to_owned()),
                Phase::Settled { why: croupier_domain::instant::SettleReason::Refunded, .. } => {
                    ("refunded", "-".into())
                }
                Phase::Settled { payout, .. } => ("settled", payout.0.to_string()),
            };
            let (nonce, seed_no, stake) = (b.nonce, b.seed_no, b.stake.0);
            f.instant_bets.insert(format!("{shard}:{i}:{}:{nonce}:{seed_no}:{hash}:{stake}:{status}:{payout}", user.0));
        }
        for (user, p) in inst.players() {
            for (i, pair) in p.pairs.iter().enumerate() {
                let revealed = p.revealed(i as u32).map_or_else(|| "-".to_owned(), |r| r.server_seed.to_hex());
                let (hash, client) = (pair.server_seed.hash(), pair.client_seed.as_str());
                f.seeds.insert(format!("{shard}:{}:{i}:{hash}:{client}:{revealed}", user.0));
            }
            f.secrets.insert(p.current().server_seed.to_hex());
        }
        f
    }

    pub fn extend(&mut self, other: GameFacts) {
        self.terms.extend(other.terms);
        self.crash_bets.extend(other.crash_bets);
        self.instant_bets.extend(other.instant_bets);
        self.seeds.extend(other.seeds);
        self.secrets.extend(other.secrets);
    }

    pub async fn of_sql(db: &Db) -> GameFacts {
        let set = |rows: Vec<(String, i64)>| rows.into_iter().map(|r| r.0).collect();
        let terms = db
            .pairs(
                "SELECT CAST(shard AS TEXT) || ':' || CAST(term_no AS TEXT) || ':' || status || ':' \
                 || COALESCE(CAST(crash_point AS TEXT), '-'), CAST(0 AS BIGINT) FROM crash_terms",
            )
            .await
            .unwrap();
        let bets = db
            .pairs(
                "SELECT CAST(shard AS TEXT) || ':' || CAST(bet_no AS TEXT) || ':' || CAST(term_no AS TEXT) || ':' \
                 || CAST(user_id AS TEXT) || ':' || CAST(stake AS TEXT) || ':' || status || ':' \
                 || COALESCE(CAST(payout AS TEXT), '-'), CAST(0 AS BIGINT) FROM crash_bets",
            )
            .await
            .unwrap();
        let instant = db
            .pairs(
                "SELECT CAST(shard AS TEXT) || ':' || CAST(bet_no AS TEXT) || ':' || CAST(user_id AS TEXT) || ':' \
                 || CAST(nonce AS TEXT) || ':' || CAST(seed_no AS TEXT) || ':' || server_seed_hash || ':' \
                 || CAST(stake AS TEXT) || ':' || status \
                 || ':' || COALESCE(CAST(payout AS TEXT), '-'), CAST(0 AS BIGINT) FROM instant_bets",
            )
            .await
            .unwrap();
        let seeds = db
            .pairs(
                "SELECT CAST(shard AS TEXT) || ':' || CAST(user_id AS TEXT) || ':' || CAST(seed_no AS TEXT) || ':' \
                 || server_seed_hash || ':' || client_seed || ':' || COALESCE(server_seed, '-'), CAST(0 AS BIGINT) \
                 FROM instant_seeds",
            )
            .await
            .unwrap();
        GameFacts {
            terms: set(terms),
            crash_bets: set(bets),
            instant_bets: set(instant),
            seeds: set(seeds),
            secrets: Default::default(),
        }
    }
}

/// The games' tables equal the engine's state, and agree with the ledger and each other.
pub async fn assert_games(db: &Db, history: &History) {
    let sql = GameFacts::of_sql(db).await;
    assert!(!history.games.crash_bets.is_empty() && !history.games.instant_bets.is_empty());
    assert_eq!(sql.terms, history.games.terms, "crash_terms equals the engine's terms");
    assert_eq!(sql.crash_bets, history.games.crash_bets, "crash_bets equals the engine's bets");
    assert_eq!(sql.instant_bets, history.games.instant_bets, "instant_bets equals the engine's bets");
    let blackjack = db.scalar("SELECT COUNT(*) FROM instant_bets WHERE game = 'blackjack'").await.unwrap();
    assert!(blackjack > 0, "blackjack games were projected");
    // Seeded histories: at least one refund landed on a game still open (the rows say so).
    let refunded = db.scalar("SELECT COUNT(*) FROM instant_bets WHERE status = 'refunded' AND payout IS NULL").await;
    assert!(refunded.unwrap() > 0, "an operator's refund is a row's status");
    assert_eq!(sql.seeds, history.games.seeds, "instant_seeds: every pair, revealed exactly when rotated");
    let revealed = db.scalar("SELECT COUNT(*) FROM instant_seeds WHERE server_seed IS NOT NULL").await.unwrap();
    assert!(revealed > 0, "some seeds were revealed");
    // What the bets' rows say was paid is what the ledger paid the players.
    for (table, kind) in [("crash_bets", "crash_bet"), ("instant_bets", "instant_bet")] {
        let rows = db.scalar(&format!("SELECT COALESCE(CAST(SUM(payout) AS BIGINT), 0) FROM {table}")).await.unwrap();
        let ledger = db
            .scalar(&format!(
                "SELECT COALESCE(CAST(SUM(amount) AS BIGINT), 0) FROM wallet_ledger \
                 WHERE ref_kind = '{kind}' AND reason = 'bet_payout' AND account_kind = 'player'"
            ))
            .await
            .unwrap();
        assert!(rows > 0, "{table} paid something");
        assert_eq!(rows, ledger, "{table}' payouts are the ledger's");
    }
    // A closed term's totals are its bets'.
    let mismatched = db
        .scalar(
            "SELECT COUNT(*) FROM crash_term_totals t WHERE t.paid <> (SELECT COALESCE(SUM(b.payout), 0) \
             FROM crash_bets b WHERE b.shard = t.shard AND b.term_no = t.term_no AND b.status IN ('cashed_out', 'lost')) \
             OR t.staked <> (SELECT COALESCE(SUM(b.stake), 0) FROM crash_bets b WHERE b.shard = t.shard \
             AND b.term_no = t.term_no AND b.status IN ('cashed_out', 'lost')) OR t.rake <> t.staked - t.paid",
        )
        .await
        .unwrap();
    assert_eq!(mismatched, 0, "crash_term_totals are the sums of their bets");
    let closed = db.scalar("SELECT COUNT(*) FROM crash_term_totals").await.unwrap();
    assert!(closed > 0, "some terms closed with totals");
    // No secret: a flight's hash only after the crash, and no server seed anywhere.
    let early =
        db.scalar("SELECT COUNT(*) FROM crash_terms WHERE hash IS NOT NULL AND crashed_at IS NULL").await.unwrap();
    assert_eq!(early, 0, "a hash is stored only for a crashed term");
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
