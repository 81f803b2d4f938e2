//! The lobby's live bet feed (seed 003's bet activity): finished instant bets, as the other
//! players may see them.
//!
//! Built only from the shards' durable events: push's tail threads (one per shard, reading
//! the journal up to the durable watermark) hand each instant event to a [`Finishes`], which
//! says when a bet is over, and the [`ActivityFeed`] decides what to show. Nothing here runs
//! on the request path or on a shard thread, so the feed never slows a bet down; a bet
//! appears once a crash can no longer take it back.
//!
//! - Shown: masked player, game, stake, multiplier (payout over stake) and payout. A bet
//!   refunded by the operator is not a finished bet and is not shown.
//! - Sampling: a bet whose stake is below `threshold_units` whole units of its currency is
//!   shown when its sample (a hash of its shard and bet number: the same after a restart)
//!   falls under `sample_per_mille`; bets at or above the threshold are always shown; a big
//!   win (payout more than `big_win_times` the stake) is always shown, flagged, and sends the
//!   batch at once.
//! - Batches: at most `batch_items` items, sent when full or `batch_ms` after its first item,
//!   to the WebSocket topic `activity` as `{"type":"bet_activity_batch","items":[...]}`.
//! - History: the last `per_game` shown items of each game, newest first, answered by
//!   `GET /api/instant/activity?game=` and the WebSocket's `get_bet_activities`. After a
//!   restart it is rebuilt from the journal (the same bets, by the same samples), without
//!   being sent again.

use crate::instant::GameName;
use crate::push::Amount;
use croupier_domain::ids::{AccountNo, UserId};
use croupier_domain::instant::{InstantEvent, InstantNo, Multiplier, SettleReason};
use croupier_domain::Money;
use croupier_feed::Directory;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use utoipa::ToSchema;

/// What the feed shows and how it batches (`GatewayConfig::activity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityConfig {
    /// Stakes at or above this many whole units of their currency are always shown.
    pub threshold_units: u64,
    /// Of the stakes below the threshold, this many per thousand are shown.
    pub sample_per_mille: u16,
    /// A win paying more than this many times the stake is a big win: always shown, flagged.
    pub big_win_times: u64,
    /// Items per batch at most.
    pub batch_items: usize,
    /// A batch is sent at the latest this long after its first item.
    pub batch_ms: u64,
    /// Items kept per game for the history.
    pub per_game: usize,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            threshold_units: 100,
            sample_per_mille: 100,
            big_win_times: 10,
            batch_items: 20,
            batch_ms: 500,
            per_game: 200,
        }
    }
}

/// Most items one history request returns (the ring's default size).
pub const MAX_HISTORY: usize = 200;

/// A finished bet, before the feed decides whether to show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    pub shard: u32,
    pub bet: InstantNo,
    pub user: UserId,
    pub game: GameName,
    pub stake: Money,
    pub payout: Money,
    /// The currency's code and decimals.
    pub currency: croupier_domain::Code,
    pub exponent: u8,
    pub at: u64,
}

/// One item of the feed, as every client sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    /// The player, masked: "123***789".
    pub player: String,
    pub game: GameName,
    pub currency: String,
    #[schema(value_type = String)]
    pub amount: String,
    /// Payout over stake.
    pub multiplier: String,
    #[schema(value_type = String)]
    pub payout: String,
    /// The payout is more than `big_win_times` the stake.
    pub big_win: bool,
    /// When the bet ended (ms since the epoch).
    pub at: u64,
    /// With `bet_no`, tells items apart (a client merging history and live batches).
    pub shard: u32,
    pub bet_no: u32,
}

/// What one shard's tail remembers to tell when a bet that stays open is over: its game
/// and account, from its placement until it ends (so it stays as small as the open bets).
#[derive(Default)]
pub struct Finishes {
    open: HashMap<u32, (GameName, AccountNo)>,
}

impl Finishes {
    /// The bet `e` finished, if it did.
    pub fn of(&mut self, shard: u32, e: &InstantEvent, n: &Directory) -> Option<Finished> {
        let finished = |bet: InstantNo, game, account, stake, payout, at: u64| {
            let (user, currency) = n.account(account)?;
            let name = n.currency(currency)?;
            let (currency, exponent) = (name.code, name.exponent);
            Some(Finished { shard, bet, user, game, stake, payout, currency, exponent, at })
        };
        match e {
            InstantEvent::Placed(p) => {
                let game = crate::instant::game_name(&p.game);
                if p.settled {
                    return finished(p.bet, game, p.account, p.stake, p.payout, p.at.0);
                }
                self.open.insert(p.bet.0, (game, p.account));
                None
            }
            InstantEvent::Settled { bet, account, stake, payout, at, why } => {
                let (game, _) = self.open.remove(&bet.0)?;
                match why {
                    SettleReason::Refunded => None,
                    SettleReason::AtBet
                    | SettleReason::Confirmed
                    | SettleReason::CashedOut
                    | SettleReason::Mine { .. }
                    | SettleReason::Swept
                    | SettleReason::Finished => finished(*bet, game, *account, *stake, *payout, at.0),
                }
            }
            InstantEvent::Refunded { bet, .. } => {
                self.open.remove(&bet.0);
                None
            }
            // Steps of a game in play, seeds and configuration: nothing finished. Named one
            // by one so that a new event is a compile error here until someone decides.
            InstantEvent::Configured(_)
            | InstantEvent::SeedCommitted { .. }
            | InstantEvent::Revealed { .. }
            | InstantEvent::Acted { .. }
            | InstantEvent::DealerRevealed { .. } => None,
        }
    }
}

/// A player's id with its middle hidden: at each end a third of it at most is shown (three
/// characters at most), so that players recognise their own bets and nobody else's.
pub fn mask(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let k = (chars.len() / 3).min(3);
    let head: String = chars[..k].iter().collect();
    let tail: String = chars[chars.len() - k..].iter().collect();
    format!("{head}***{tail}")
}

/// The bet's sample in 0..1000, fixed by its shard and number (SplitMix64's finaliser).
pub fn sample(shard: u32, bet: InstantNo) -> u16 {
    let mut z = (u64::from(shard) << 32 | u64::from(bet.0)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % 1000) as u16
}

/// The item the feed shows for `f`, or `None` when sampling leaves it out.
pub fn admit(f: &Finished, cfg: &ActivityConfig) -> Option<Activity> {
    let stake = i128::from(f.stake.0);
    let big_win = i128::from(f.payout.0) > stake * i128::from(cfg.big_win_times);
    let threshold = i128::from(cfg.threshold_units) * 10i128.pow(u32::from(f.exponent));
    if !big_win && stake < threshold && sample(f.shard, f.bet) >= cfg.sample_per_mille {
        return None;
    }
    let multiplier = if stake > 0 {
        let m = i128::from(f.payout.0) * i128::from(Multiplier::SCALE) / stake;
        Multiplier(u64::try_from(m).unwrap_or(u64::MAX))
    } else {
        Multiplier::ZERO
    };
    let amount = |m: Money| serde_json::to_value(Amount(m, f.exponent)).ok().and_then(|v| v.as_str().map(Into::into));
    Some(Activity {
        player: mask(&f.user.0.to_string()),
        game: f.game,
        currency: f.currency.as_str().into(),
        amount: amount(f.stake).unwrap_or_default(),
        multiplier: multiplier.to_string(),
        payout: amount(f.payout).unwrap_or_default(),
        big_win,
        at: f.at,
        shard: f.shard,
        bet_no: f.bet.0,
    })
}

/// Items waiting to be sent: a batch leaves when full, when its first item is `batch_ms`
/// old, or at once with a big win. Time is an input, so the rule is tested without a clock.
#[derive(Debug, Default)]
pub struct Batcher {
    items: Vec<Arc<Activity>>,
    first_at_ms: u64,
}

impl Batcher {
    /// Adds an item; the batch to send, if it is now due.
    pub fn push(&mut self, item: Arc<Activity>, now_ms: u64, cfg: &ActivityConfig) -> Option<Vec<Arc<Activity>>> {
        if self.items.is_empty() {
            self.first_at_ms = now_ms;
        }
        let urgent = item.big_win;
        self.items.push(item);
        if urgent || self.items.len() >= cfg.batch_items.max(1) {
            return Some(std::mem::take(&mut self.items));
        }
        None
    }

    /// The batch to send because its first item waited `batch_ms`, if any.
    pub fn due(&mut self, now_ms: u64, cfg: &ActivityConfig) -> Option<Vec<Arc<Activity>>> {
        let late = now_ms.saturating_sub(self.first_at_ms) >= cfg.batch_ms;
        (!self.items.is_empty() && late).then(|| std::mem::take(&mut self.items))
    }
}

const GAMES: [GameName; 5] = [GameName::Dice, GameName::Keno, GameName::Plinko, GameName::Mines, GameName::Blackjack];

fn game_index(g: GameName) -> usize {
    match g {
        GameName::Dice => 0,
        GameName::Keno => 1,
        GameName::Plinko => 2,
        GameName::Mines => 3,
        GameName::Blackjack => 4,
    }
}

struct Inner {
    rings: [VecDeque<Arc<Activity>>; GAMES.len()],
    batcher: Batcher,
}

/// The feed every shard's tail offers its finished bets to: per game the last items shown,
/// and the batch being filled.
pub struct ActivityFeed {
    cfg: ActivityConfig,
    inner: Mutex<Inner>,
}

impl ActivityFeed {
    pub fn new(cfg: ActivityConfig) -> ActivityFeed {
        let inner = Inner { rings: Default::default(), batcher: Batcher::default() };
        ActivityFeed { cfg, inner: Mutex::new(inner) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers finished bets: those shown enter their game's history and, when `live`, the
    /// batch. Returns the batches due, as JSON to send to the `activity` topic.
    pub fn offer(&self, finished: &[Finished], now_ms: u64, live: bool) -> Vec<String> {
        let mut out = Vec::new();
        if finished.is_empty() {
            // Every tail offers after every poll: most offer nothing and need no lock.
            return out;
        }
        let mut g = self.lock();
        for f in finished {
            let Some(item) = admit(f, &self.cfg) else { continue };
            let item = Arc::new(item);
            let ring = &mut g.rings[game_index(item.game)];
            if ring.len() >= self.cfg.per_game.max(1) {
                ring.pop_front();
            }
            ring.push_back(item.clone());
            if live {
                out.extend(g.batcher.push(item, now_ms, &self.cfg).map(|b| batch_json(&b)));
            }
        }
        out
    }

    /// The batch whose time has come, if any, as JSON.
    pub fn due(&self, now_ms: u64) -> Option<String> {
        self.lock().batcher.due(now_ms, &self.cfg).map(|b| batch_json(&b))
    }

    /// The game's last `limit` items shown, newest first.
    pub fn recent(&self, game: GameName, limit: usize) -> Vec<Activity> {
        let g = self.lock();
        g.rings[game_index(game)].iter().rev().take(limit).map(|a| (**a).clone()).collect()
    }
}

fn batch_json(items: &[Arc<Activity>]) -> String {
    #[derive(Serialize)]
    struct Batch<'a> {
        r#type: &'static str,
        topic: &'static str,
        items: Vec<&'a Activity>,
    }
    let items = items.iter().map(|a| &**a).collect();
    serde_json::to_string(&Batch { r#type: "bet_activity_batch", topic: "activity", items }).unwrap_or_default()
}

/// A game as clients name it in a history request: `dice`, or seed 003's `inhousegame:dice`.
pub fn parse_game(s: &str) -> Option<GameName> {
    let name = s.strip_prefix("inhousegame:").unwrap_or(s);
    GAMES.into_iter().find(|g| serde_json::to_value(g).ok().and_then(|v| v.as_str().map(|n| n == name)) == Some(true))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityAnswer {
    pub game: GameName,
    /// Newest first.
    pub items: Vec<Activity>,
}

/// The answer to a history request (HTTP and WebSocket share it): `game` is required,
/// `limit` defaults to 50 and is held to 1..=200.
pub fn history(
    feed: &ActivityFeed,
    game: Option<&str>,
    limit: Option<u32>,
) -> Result<ActivityAnswer, crate::error::ApiError> {
    use crate::error::ApiError;
    let game = game.ok_or_else(|| ApiError::unprocessable("MISSING_GAME_ID", "name the game: ?game=dice"))?;
    let game = parse_game(game).ok_or_else(|| {
        ApiError::unprocessable(
            "UNKNOWN_GAME",
            format!("unknown game {}: dice, keno, plinko, mines or blackjack", crate::error::quote(game)),
        )
    })?;
    let limit = limit.unwrap_or(50).clamp(1, MAX_HISTORY as u32) as usize;
    Ok(ActivityAnswer { game, items: feed.recent(game, limit) })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ActivityQuery {
    /// dice, keno, plinko, mines or blackjack (`inhousegame:dice` is accepted too).
    pub game: Option<String>,
    /// Most items returned, newest first [default 50, at most 200].
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The lobby's live feed: the game's last finished bets shown (sampled; big wins and stakes
/// over the threshold always), newest first. Public: players are masked.
#[utoipa::path(get, path = "/api/instant/activity", tag = "instant", params(ActivityQuery),
    responses((status = 200, description = "Recent bets", body = ActivityAnswer), crate::error::ErrorResponses))]
pub async fn recent(
    axum::extract::State(app): axum::extract::State<crate::AppState>,
    crate::extract::Query(q): crate::extract::Query<ActivityQuery>,
) -> Result<axum::Json<ActivityAnswer>, crate::error::ApiError> {
    history(&app.activity, q.game.as_deref(), q.limit).map(axum::Json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::Code;

    fn finished(bet: u32, stake: i64, payout: i64) -> Finished {
        Finished {
            shard: 1,
            bet: InstantNo(bet),
            user: UserId(1_234_567),
            game: GameName::Dice,
            stake: Money(stake),
            payout: Money(payout),
            currency: Code::new("CNY").unwrap(),
            exponent: 2,
            at: 5,
        }
    }

    #[test]
    fn masking_hides_the_middle_and_shows_at_most_a_third() {
        assert_eq!(mask("1234567"), "12***67");
        assert_eq!(mask("123456789012"), "123***012");
        assert_eq!(mask("player_123"), "pla***123");
        assert_eq!(mask("42"), "***");
        assert_eq!(mask("7"), "***");
        assert_eq!(mask("12345"), "1***5");
        for len in 1..30 {
            let name: String = "9".repeat(len);
            let shown = mask(&name).chars().filter(|c| *c != '*').count();
            assert!(shown * 3 <= 2 * len && shown <= 6, "{len}: {shown} shown");
        }
    }

    #[test]
    fn small_bets_are_sampled_deterministically_at_the_rate() {
        let cfg = ActivityConfig::default();
        let shown: Vec<bool> = (0..10_000).map(|b| admit(&finished(b, 1_00, 0), &cfg).is_some()).collect();
        let again: Vec<bool> = (0..10_000).map(|b| admit(&finished(b, 1_00, 0), &cfg).is_some()).collect();
        assert_eq!(shown, again, "the same bets are shown every time");
        let n = shown.iter().filter(|s| **s).count();
        assert!((800..1_200).contains(&n), "about 10 % of 10,000: {n}");
        let none = ActivityConfig { sample_per_mille: 0, ..cfg.clone() };
        assert!((0..1_000).all(|b| admit(&finished(b, 1_00, 0), &none).is_none()));
        let all = ActivityConfig { sample_per_mille: 1_000, ..cfg };
        assert!((0..1_000).all(|b| admit(&finished(b, 1_00, 0), &all).is_some()));
    }

    #[test]
    fn stakes_at_the_threshold_and_big_wins_are_always_shown_and_big_wins_flagged() {
        let cfg = ActivityConfig { sample_per_mille: 0, ..ActivityConfig::default() };
        let big_stake = admit(&finished(1, 10_000, 0), &cfg).expect("100.00 is at the threshold");
        assert!(!big_stake.big_win);
        assert!(admit(&finished(1, 99_99, 0), &cfg).is_none(), "just under is sampled");
        let win = admit(&finished(2, 1_00, 10_01), &cfg).expect("more than 10x");
        assert!(win.big_win);
        assert_eq!((win.amount.as_str(), win.payout.as_str(), win.multiplier.as_str()), ("1.00", "10.01", "10.01"));
        assert_eq!(win.player, "12***67");
        assert!(admit(&finished(3, 1_00, 10_00), &cfg).is_none(), "exactly 10x is not a big win");
    }

    #[test]
    fn batches_leave_when_full_when_late_or_with_a_big_win() {
        let cfg = ActivityConfig { batch_items: 3, batch_ms: 500, ..ActivityConfig::default() };
        let item = |big_win| Arc::new(Activity { big_win, ..admit(&finished(1, 10_000, 0), &cfg).unwrap() });
        let mut b = Batcher::default();
        assert!(b.push(item(false), 1_000, &cfg).is_none());
        assert!(b.push(item(false), 1_100, &cfg).is_none());
        assert_eq!(b.push(item(false), 1_200, &cfg).map(|v| v.len()), Some(3), "full");
        assert!(b.due(9_999, &cfg).is_none(), "nothing left");
        assert!(b.push(item(false), 2_000, &cfg).is_none());
        assert!(b.due(2_499, &cfg).is_none());
        assert_eq!(b.due(2_500, &cfg).map(|v| v.len()), Some(1), "500 ms after its first item");
        assert!(b.push(item(false), 3_000, &cfg).is_none());
        assert_eq!(b.push(item(true), 3_001, &cfg).map(|v| v.len()), Some(2), "a big win goes at once");
    }

    #[test]
    fn history_keeps_the_last_items_of_each_game_newest_first() {
        let cfg = ActivityConfig { sample_per_mille: 1_000, per_game: 200, ..ActivityConfig::default() };
        let feed = ActivityFeed::new(cfg);
        let bets: Vec<Finished> = (0..250).map(|b| finished(b, 1_00, 0)).collect();
        let keno = Finished { game: GameName::Keno, ..finished(999, 1_00, 0) };
        assert!(feed.offer(&bets, 0, false).is_empty(), "history only: nothing sent");
        feed.offer(&[keno], 0, false);
        let dice = feed.recent(GameName::Dice, 500);
        assert_eq!(dice.len(), 200);
        assert_eq!((dice[0].bet_no, dice[199].bet_no), (249, 50));
        assert_eq!(feed.recent(GameName::Keno, 50).len(), 1);
        assert!(feed.recent(GameName::Mines, 50).is_empty());
        let answer = history(&feed, Some("inhousegame:dice"), Some(1_000)).unwrap();
        assert_eq!(answer.items.len(), MAX_HISTORY);
        assert_eq!(history(&feed, None, None).unwrap_err().code, "MISSING_GAME_ID");
        assert_eq!(history(&feed, Some("roulette"), None).unwrap_err().code, "UNKNOWN_GAME");
    }

    #[test]
    fn the_history_endpoint_and_its_schemas_are_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(&crate::openapi::json()).unwrap();
        assert!(doc["paths"]["/api/instant/activity"]["get"].is_object());
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["ActivityAnswer"].is_object() && schemas["Activity"].is_object(), "{schemas}");
    }

    #[test]
    fn live_offers_are_batched_as_json() {
        let cfg = ActivityConfig { sample_per_mille: 1_000, batch_items: 20, ..ActivityConfig::default() };
        let feed = ActivityFeed::new(cfg);
        let bets: Vec<Finished> = (0..45).map(|b| finished(b, 1_00, 0)).collect();
        let sent = feed.offer(&bets, 0, true);
        assert_eq!(sent.len(), 2);
        let v: serde_json::Value = serde_json::from_str(&sent[0]).unwrap();
        assert_eq!(v["type"], "bet_activity_batch");
        assert_eq!(v["items"].as_array().unwrap().len(), 20);
        assert_eq!(v["items"][0]["player"], "12***67");
        assert!(feed.due(499).is_none());
        let last: serde_json::Value = serde_json::from_str(&feed.due(500).unwrap()).unwrap();
        assert_eq!(last["items"].as_array().unwrap().len(), 5);
    }

    /// Through the engine: a dice bet finishes at once, plinko once confirmed, a mines game
    /// the operator refunded never; only the first two are in the feed.
    #[test]
    fn bets_finish_when_they_end_and_refunds_are_not_shown() {
        use croupier_domain::ids::Timestamp;
        use croupier_domain::instant::dice::DiceCall;
        use croupier_domain::instant::plinko::PlinkoRisk;
        use croupier_domain::instant::{
            ClientSeed, GameParams, InstantBet, InstantCommand as I, InstantConfig, InstantLimits, ServerSeed,
        };
        use croupier_domain::testkit::{code, default_limits, deposit, id, must, setup_commands};
        use croupier_domain::{Command, Engine};
        let mut e = Engine::default();
        let mut events = Vec::new();
        let mut run = |e: &mut Engine, cmd: Command| {
            must(e, &cmd, Timestamp(10));
            events.extend(e.events().iter().cloned());
        };
        for c in setup_commands(default_limits()) {
            run(&mut e, c);
        }
        run(&mut e, deposit(7, 10_000, 1));
        let mut run = |e: &mut Engine, cmd: I| run(e, Command::Instant(cmd));
        let mut config = InstantConfig::stake_defaults();
        config.limits.push(InstantLimits {
            currency: code("CNY"),
            min_stake: Money(1),
            max_stake: Money(100_000),
            max_win: Money(100_000_000),
        });
        let user = UserId(7);
        run(&mut e, I::Configure(Box::new(config)));
        let (server_seed, client_seed) = (ServerSeed([7; 32]), ClientSeed::new("c").unwrap());
        run(&mut e, I::RotateSeed { user, server_seed, client_seed });
        let bet = |name: &str, game| {
            I::Bet(InstantBet { id: id(name), user, currency: code("CNY"), stake: Money(1_00), game })
        };
        run(&mut e, bet("d", GameParams::Dice(DiceCall { target: 200, over: true })));
        run(&mut e, bet("p", GameParams::Plinko { rows: 8, risk: PlinkoRisk::Low }));
        run(&mut e, bet("m", GameParams::Mines { mines: 3 }));
        run(&mut e, I::Refund { user, id: id("m") });
        run(&mut e, I::Settle { user, id: id("p") });

        let (mut names, mut finishes) = (Directory::default(), Finishes::default());
        let mut done = Vec::new();
        for ev in &events {
            names.learn(ev);
            if let croupier_domain::Event::Instant(i) = ev {
                done.extend(finishes.of(0, i, &names));
            }
        }
        let games: Vec<(GameName, u32)> = done.iter().map(|f| (f.game, f.bet.0)).collect();
        assert_eq!(games, [(GameName::Dice, 0), (GameName::Plinko, 1)]);
        assert!(done.iter().all(|f| f.user == user && f.stake == Money(1_00) && f.exponent == 2));
        assert!(finishes.open.is_empty(), "nothing open is remembered");
    }
}
