//! Instant games over HTTP (seed 003): the player's seeds (hash shown, rotation revealing the
//! old seed), bets on dice, keno, plinko, mines and blackjack, mines' reveals and cash outs,
//! plinko's confirmation, blackjack's hit, stand, double, split and insurance, the
//! operator's refund of an unfinished game, the player's history with what verifying each
//! bet needs, the payout tables with their returns to player, a public verifier, and the
//! sweeper that settles plinko bets left pending and mines games left idle.
//!
//! Server seeds are drawn here, at the edge, from the operating system's CSPRNG
//! (`getrandom(2)`), and carried to the engine in commands. No answer shows a server seed
//! before it is revealed: the seeds view shows the hash of the one in use; the history shows
//! a bet's server seed only once its pair was replaced.

use crate::error::{ApiError, ErrorResponses};
use crate::extract::{Path, Query};
use crate::fields::{user_id, Scalar};
use crate::{amount, ext_id, now_ms, parse_body, AppState, Signed};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use croupier_domain::command::Command;
use croupier_domain::ids::{Timestamp, UserId};
use croupier_domain::instant::blackjack::{self, Action, Insurance, Table};
use croupier_domain::instant::dice::DiceCall;
use croupier_domain::instant::keno::{KenoRisk, Picks};
use croupier_domain::instant::plinko::{Path as PlinkoPath, PlinkoRisk, MAX_ROWS, MIN_ROWS};
use croupier_domain::instant::verify::{verify as verify_bet, BetParams};
use croupier_domain::instant::{
    dice, mines, ClientSeed, GameParams, InstantBet, InstantCommand, InstantConfig, InstantLimits, InstantNo,
    InstantOutcome, Phase, ServerSeed, SettleReason, Stream,
};
use croupier_domain::state::State as EngineState;
use croupier_domain::{ExtId, InstantReply, Money, Reply, Rotated};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// `n` bytes from the operating system's CSPRNG.
pub(crate) fn os_random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    let mut filled = 0;
    // Bounded: getrandom returns at most 256 bytes short only when interrupted.
    for _ in 0..16 {
        // SAFETY: the pointer and length describe `buf[filled..]`, which we own.
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), N - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
        if filled == N {
            return Ok(buf);
        }
    }
    Err(ApiError::unavailable("the operating system's random source did not answer"))
}

/// A fresh server seed and a random default client seed (16 hex digits).
fn fresh_seeds() -> Result<(ServerSeed, ClientSeed), ApiError> {
    let client = hex::encode(os_random::<8>()?);
    Ok((ServerSeed(os_random::<32>()?), ClientSeed::new(&client).expect("hex is printable ASCII")))
}

/// The configuration `croupier serve` gives a new data folder: Stake's tables and edges, and
/// per currency stakes from one minor unit's hundredfold to 10,000 units with a max win of
/// 1,000,000 units.
pub fn default_config(currencies: &[(String, u8)]) -> InstantConfig {
    let mut c = InstantConfig::stake_defaults();
    for (code, exponent) in currencies {
        let Ok(currency) = croupier_domain::ids::Code::new(code) else { continue };
        let unit = 10i64.pow(*exponent as u32);
        c.limits.push(InstantLimits {
            currency,
            min_stake: Money(unit / 100).max(Money(1)),
            max_stake: Money(10_000 * unit),
            max_win: Money(1_000_000 * unit),
        });
    }
    c
}

// ---- seeds ----

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeedPairView {
    /// sha256 of the server seed's text: the commitment, shown before any bet uses it.
    pub server_seed_hash: String,
    /// The server seed itself: only once revealed (its pair replaced), else absent.
    pub server_seed: Option<String>,
    pub client_seed: String,
    /// Nonces used with the pair: bets 0 .. nonces-1.
    pub nonces: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeedsAnswer {
    /// The pair in use (its server seed hidden).
    pub current: SeedPairView,
    /// The nonce the next bet uses.
    pub next_nonce: u64,
    /// Earlier pairs, newest first (at most 20), with their server seeds revealed.
    pub revealed: Vec<SeedPairView>,
}

fn seeds_of(s: &EngineState, user: UserId) -> Option<SeedsAnswer> {
    let p = s.instant().player(user)?;
    let mut nonces = vec![0u64; p.pairs.len()];
    for no in s.instant().bets_of_user(user) {
        let b = s.instant().bet(no);
        nonces[b.seed_no as usize] = nonces[b.seed_no as usize].max(b.nonce + 1);
    }
    let view = |i: usize, reveal: bool| SeedPairView {
        server_seed_hash: p.pairs[i].server_seed.hash().to_string(),
        server_seed: reveal.then(|| p.pairs[i].server_seed.to_hex()),
        client_seed: p.pairs[i].client_seed.as_str().into(),
        nonces: nonces[i],
    };
    let last = p.pairs.len() - 1;
    Some(SeedsAnswer {
        current: view(last, false),
        next_nonce: p.nonce,
        revealed: (0..last).rev().take(20).map(|i| view(i, true)).collect(),
    })
}

/// The token's player's seeds: the hash of the server seed in use, the client seed, the next
/// nonce and earlier pairs revealed. A player without seeds gets a first pair here (a bet
/// before the player has seen a hash is refused `SEED_REQUIRED`).
#[utoipa::path(get, path = "/api/me/instant/seeds", tag = "instant", security(("player_token" = [])),
    responses((status = 200, description = "Seeds", body = SeedsAnswer), ErrorResponses))]
pub async fn seeds(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<SeedsAnswer>, ApiError> {
    let user = app.player(&headers)?.user;
    let shard = app.engine.shard_of(user);
    if let Some(answer) = app.engine.read(shard, move |s| seeds_of(s, user)).await? {
        return Ok(Json(answer));
    }
    let (server_seed, client_seed) = fresh_seeds()?;
    match app.engine.call(Command::Instant(InstantCommand::RotateSeed { user, server_seed, client_seed })).await {
        // Two first requests at once: the second pair replaced the first, unused; either way
        // the player now has a pair.
        Ok(_) => {}
        Err(e) if e.code == "GAME_IN_PROGRESS" => {}
        Err(e) => return Err(e),
    }
    let answer = app.engine.read(shard, move |s| seeds_of(s, user)).await?;
    answer.map(Json).ok_or_else(|| ApiError::unavailable("the seed pair was not recorded"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// The new client seed (printable ASCII, 1 to 32 bytes); a random one when absent.
    #[serde(default)]
    pub client_seed: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RotateAnswer {
    /// The pair replaced, its server seed revealed: every bet made with it can now be verified.
    pub revealed: Option<SeedPairView>,
    /// The new pair (server seed hidden), nonce 0.
    pub current: SeedPairView,
}

/// Rotation: commits a new server seed (and the given or a random client seed), reveals the
/// one in use and restarts the nonce. Refused while a mines game is in play (its mines
/// would be revealed).
#[utoipa::path(post, path = "/api/me/instant/seeds/rotate", tag = "instant", request_body = RotateRequest,
    security(("player_token" = [])),
    responses((status = 200, description = "Rotated", body = RotateAnswer), ErrorResponses))]
pub async fn rotate(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RotateAnswer>, ApiError> {
    let user = app.player(&headers)?.user;
    let req: RotateRequest = parse_body(&body)?;
    let (server_seed, random_client) = fresh_seeds()?;
    let client_seed = match req.client_seed.as_deref() {
        Some(c) => {
            ClientSeed::new(c).map_err(|e| ApiError::unprocessable("INVALID_ID", format!("client_seed: {e}")))?
        }
        None => random_client,
    };
    let cmd = Command::Instant(InstantCommand::RotateSeed { user, server_seed, client_seed });
    let Reply::Instant(InstantReply::Rotated(rotated)) = app.engine.call(cmd).await? else {
        return Err(ApiError::unavailable("unexpected answer to a rotation"));
    };
    let Rotated { hash, revealed } = *rotated;
    Ok(Json(RotateAnswer {
        revealed: revealed.map(|(seed, client, nonces)| SeedPairView {
            server_seed_hash: seed.hash().to_string(),
            server_seed: Some(seed.to_hex()),
            client_seed: client.as_str().into(),
            nonces,
        }),
        current: SeedPairView {
            server_seed_hash: hash.to_string(),
            server_seed: None,
            client_seed: client_seed.as_str().into(),
            nonces: 0,
        },
    }))
}

// ---- bets ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GameName {
    Dice,
    Keno,
    Plinko,
    Mines,
    Blackjack,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstantBetRequest {
    /// The caller's bet id, unique per player: a repeat with the same content gets the first
    /// answer (`replayed: true`); other content is `IDEMPOTENCY_CONFLICT`.
    pub id: String,
    pub game: GameName,
    /// Stake, a decimal string such as "1.00".
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
    /// Dice: the target, "0.00" to "100.00".
    #[serde(default)]
    pub target: Option<String>,
    /// Dice: win above the target (true, the default) or below it.
    #[serde(default)]
    pub over: Option<bool>,
    /// Keno: 1 to 10 distinct numbers from 1 to 40.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub picks: Option<Vec<u8>>,
    /// Keno: classic, low, medium or high; plinko: low, medium or high.
    #[serde(default)]
    pub risk: Option<String>,
    /// Plinko: 8 to 16 rows.
    #[serde(default)]
    #[schema(minimum = 8, maximum = 16)]
    pub rows: Option<u8>,
    /// Mines: 1 to 24 mines.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 24)]
    pub mines: Option<u8>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstantBetView {
    pub id: String,
    pub bet_no: u32,
    pub game: GameName,
    pub amount: String,
    pub currency: String,
    /// `open` (plinko before its confirmation, mines in play) or `settled`.
    pub state: String,
    /// Dice: the roll; keno: the numbers drawn and hits; plinko: the path and slot; mines:
    /// the gems revealed, and once the game is over where the mines were.
    pub outcome: String,
    /// The multiplier earned (mines: at the last gem; 0 on a mine).
    pub multiplier: String,
    /// What it paid (settled) or will pay (plinko before its confirmation); absent for
    /// mines in play.
    pub payout: Option<String>,
    pub placed_at: u64,
    /// Verification: the pair's server seed hash, the server seed once revealed (its pair
    /// replaced), the client seed and the nonce.
    pub server_seed_hash: String,
    pub server_seed: Option<String>,
    pub client_seed: String,
    pub nonce: u64,
    /// Why it ended: at_bet, confirmed, cashed_out, mine, swept, finished (blackjack played
    /// out), refunded (by the operator).
    pub ended: Option<String>,
    /// Mines: the tile (0 to 24) whose mine ended the game.
    pub mine_tile: Option<u8>,
    /// What was bet on, as the bet asked it (null where the game takes no such
    /// parameter), so a verifier needs nothing but this view.
    #[serde(flatten)]
    pub params: BetParamsView,
    pub replayed: bool,
    /// Blackjack: the table as the player may see it (absent for other games).
    pub blackjack: Option<BlackjackView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlackjackView {
    /// The dealer's cards: the up card while the game runs (the hole card stays hidden), every
    /// card once it is over. Cards read like "10-club", "A-heart".
    pub dealer: Vec<String>,
    /// The dealer's points once over (else the up card's).
    pub dealer_total: u32,
    pub hands: Vec<HandView>,
    /// The hand being played (0 or 1), absent once every hand is done.
    pub active: Option<u8>,
    /// not_offered, offered (answer it first), declined or taken.
    pub insurance: String,
    /// Actions played so far: send it as `step` with the next action to make a retry safe.
    pub step: u8,
    /// What the player may do now (hit, stand, double, split, insurance, no_insurance).
    pub allowed: Vec<String>,
    /// The actions played so far, in order (as `allowed` names them): with the revealed seed,
    /// what a verifier replays the game from.
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HandView {
    pub cards: Vec<String>,
    pub total: u32,
    /// Whether an ace counts 11 in the total.
    pub soft: bool,
    pub amount: String,
    pub doubled: bool,
    pub done: bool,
}

fn blackjack_view(t: &Table, exponent: u8) -> BlackjackView {
    let names = |cards: &[croupier_domain::instant::cards::Card]| cards.iter().map(|c| c.to_string()).collect();
    let hands = t
        .hands
        .iter()
        .map(|h| {
            let (total, soft) = blackjack::total(&h.cards);
            HandView {
                cards: names(&h.cards),
                total,
                soft,
                amount: amount::format(h.stake, exponent),
                doubled: h.doubled,
                done: h.done,
            }
        })
        .collect();
    let insurance = match t.insurance {
        Insurance::NotOffered => "not_offered",
        Insurance::Offered => "offered",
        Insurance::Declined => "declined",
        Insurance::Taken { .. } => "taken",
    };
    BlackjackView {
        dealer: names(&t.dealer),
        dealer_total: blackjack::total(&t.dealer).0,
        hands,
        active: ((t.active as usize) < t.hands.len() && !t.over).then_some(t.active),
        insurance: insurance.into(),
        step: t.actions.len() as u8,
        allowed: Action::ALL.into_iter().filter(|a| t.check(*a).is_ok()).map(|a| a.name().to_owned()).collect(),
        actions: t.actions.iter().map(|a| a.name().to_owned()).collect(),
    }
}

/// A bet's parameters, named as in [`InstantBetRequest`].
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct BetParamsView {
    /// Dice: the target, "0.00" to "100.00".
    pub target: Option<String>,
    /// Dice: a win above the target (else below it).
    pub over: Option<bool>,
    /// Keno: the numbers picked (1 to 40), ascending.
    pub picks: Option<Vec<u8>>,
    /// Keno and plinko: the risk.
    pub risk: Option<String>,
    /// Plinko: the rows.
    pub rows: Option<u8>,
    /// Mines: the mines.
    pub mines: Option<u8>,
}

impl BetParamsView {
    fn of(g: &GameParams) -> BetParamsView {
        let none = BetParamsView::default();
        match *g {
            GameParams::Dice(c) => BetParamsView {
                target: Some(format!("{}.{:02}", c.target / 100, c.target % 100)),
                over: Some(c.over),
                ..none
            },
            GameParams::Keno { risk, picks } => BetParamsView {
                picks: Some(picks.tiles().map(|t| t + 1).collect()),
                risk: Some(risk.name().into()),
                ..none
            },
            GameParams::Plinko { rows, risk } => {
                BetParamsView { rows: Some(rows), risk: Some(risk.name().into()), ..none }
            }
            GameParams::Mines { mines: count } => BetParamsView { mines: Some(count), ..none },
            // Blackjack takes no parameters: its view is the `blackjack` object.
            GameParams::Blackjack => none,
        }
    }
}

pub(crate) fn game_name(g: &GameParams) -> GameName {
    match g {
        GameParams::Dice(_) => GameName::Dice,
        GameParams::Keno { .. } => GameName::Keno,
        GameParams::Plinko { .. } => GameName::Plinko,
        GameParams::Mines { .. } => GameName::Mines,
        GameParams::Blackjack => GameName::Blackjack,
    }
}

fn tiles(set: u64, base: u8) -> String {
    (0..64u8).filter(|t| set & 1 << t != 0).map(|t| (t + base).to_string()).collect::<Vec<_>>().join(", ")
}

fn bet_view(s: &EngineState, no: InstantNo, replayed: bool) -> InstantBetView {
    let inst = s.instant();
    let b = inst.bet(no);
    let a = s.account(b.account);
    let c = &s.currencies()[a.currency.index()];
    let player = inst.player(a.user).expect("a bet's player has seeds");
    let pair = &player.pairs[b.seed_no as usize];
    let revealed = player.revealed(b.seed_no).is_some();
    let settled = !b.is_open();
    let outcome = match (b.outcome, b.game) {
        (InstantOutcome::Dice { roll }, _) => format!("roll {}.{:02}", roll / 100, roll % 100),
        (InstantOutcome::Keno { drawn, hits }, _) => format!("drawn {}; {hits} hits", tiles(drawn, 1)),
        (InstantOutcome::Plinko { rights }, GameParams::Plinko { rows, .. }) => {
            let p = PlinkoPath { rows, rights };
            format!("path {} slot {}", p.directions(), p.slot())
        }
        (_, GameParams::Mines { mines: count }) => {
            let mut text = format!("gems at {}", tiles(b.revealed as u64, 0));
            if settled {
                // Over: the mines may be shown (the seed stays hidden until rotation).
                let mut stream = Stream::of(&pair.server_seed, pair.client_seed.as_str().as_bytes(), b.nonce);
                text += &format!("; mines at {}", tiles(mines::place(&mut stream, count) as u64, 0));
            }
            text
        }
        (_, GameParams::Blackjack) => match b.table.as_deref() {
            Some(t) if t.over => format!("blackjack: dealer {}", blackjack::total(&t.dealer).0),
            _ => "blackjack in play".to_owned(),
        },
        _ => String::new(),
    };
    let (multiplier, ended) = match b.state {
        Phase::Open => (b.multiplier, None),
        Phase::Settled { why, .. } => {
            let why = match why {
                SettleReason::AtBet => "at_bet",
                SettleReason::Confirmed => "confirmed",
                SettleReason::CashedOut => "cashed_out",
                SettleReason::Mine { .. } => "mine",
                SettleReason::Swept => "swept",
                SettleReason::Finished => "finished",
                SettleReason::Refunded => "refunded",
            };
            (b.multiplier, Some(why.to_owned()))
        }
    };
    let multiplier = match b.game {
        GameParams::Mines { mines: count }
            if !matches!(b.state, Phase::Settled { why: SettleReason::Mine { .. }, .. }) =>
        {
            let gems = b.revealed.count_ones() as u8;
            let edge = inst.config().map_or(100, |c| c.mines_edge_bp);
            if gems == 0 {
                croupier_domain::instant::Multiplier::ZERO
            } else {
                mines::multiplier(count, gems, edge)
            }
        }
        // Blackjack: what it paid over every stake it took.
        GameParams::Blackjack if settled && b.stake.is_positive() => croupier_domain::instant::Multiplier(
            (i128::from(b.payout.0) * croupier_domain::instant::Multiplier::SCALE as i128 / i128::from(b.stake.0))
                as u64,
        ),
        _ => multiplier,
    };
    let payout = match (b.state, b.game) {
        (Phase::Open, GameParams::Mines { .. } | GameParams::Blackjack) => None,
        _ => Some(amount::format(b.payout, c.exponent)),
    };
    InstantBetView {
        id: b.id.as_str().into(),
        bet_no: no.0,
        game: game_name(&b.game),
        amount: amount::format(b.stake, c.exponent),
        currency: c.code.as_str().into(),
        state: if settled { "settled" } else { "open" }.into(),
        outcome,
        multiplier: multiplier.to_string(),
        payout,
        placed_at: b.placed_at.0,
        server_seed_hash: pair.server_seed.hash().to_string(),
        server_seed: revealed.then(|| pair.server_seed.to_hex()),
        client_seed: pair.client_seed.as_str().into(),
        nonce: b.nonce,
        ended,
        mine_tile: match b.state {
            Phase::Settled { why: SettleReason::Mine { tile }, .. } => Some(tile),
            _ => None,
        },
        params: BetParamsView::of(&b.game),
        replayed,
        blackjack: b.table.as_deref().map(|t| blackjack_view(t, c.exponent)),
    }
}

fn params(req: &InstantBetRequest) -> Result<GameParams, ApiError> {
    let bad = |m: &str| ApiError::unprocessable("INVALID_GAME_PARAMS", m.to_owned());
    Ok(match req.game {
        GameName::Dice => {
            let target = req.target.as_deref().ok_or_else(|| bad("dice needs a target"))?;
            let t = amount::parse(target, 2).map_err(|_| bad("target: a decimal from 0.01 to 99.99"))?;
            let target =
                u16::try_from(t.0).ok().filter(|t| *t <= 10_000).ok_or_else(|| bad("target: 0.00 to 100.00"))?;
            let call = DiceCall { target, over: req.over.unwrap_or(true) };
            call.chance().ok_or_else(|| bad("dice chance must be 0.01 % to 98 %"))?;
            GameParams::Dice(call)
        }
        GameName::Keno => {
            let risk = KenoRisk::from_name(req.risk.as_deref().unwrap_or("classic"))
                .ok_or_else(|| bad("risk: classic, low, medium or high"))?;
            let numbers = req.picks.as_deref().unwrap_or(&[]);
            let tiles: Vec<u8> = numbers.iter().map(|n| n.wrapping_sub(1)).collect();
            let picks = Picks::new(&tiles).ok_or_else(|| bad("picks: 1 to 10 distinct numbers from 1 to 40"))?;
            GameParams::Keno { risk, picks }
        }
        GameName::Plinko => {
            let risk = PlinkoRisk::from_name(req.risk.as_deref().unwrap_or("low"))
                .ok_or_else(|| bad("risk: low, medium or high"))?;
            let rows = req.rows.unwrap_or(16);
            if !(MIN_ROWS..=MAX_ROWS).contains(&rows) {
                return Err(bad("rows: 8 to 16"));
            }
            GameParams::Plinko { rows, risk }
        }
        GameName::Mines => {
            let count = req.mines.unwrap_or(3);
            if !(mines::MIN_MINES..=mines::MAX_MINES).contains(&count) {
                return Err(bad("mines: 1 to 24"));
            }
            GameParams::Mines { mines: count }
        }
        GameName::Blackjack => GameParams::Blackjack,
    })
}

/// Answers with the view of bet `id` of `user` after `cmd`.
async fn view_after(app: &AppState, user: UserId, id: ExtId, replayed: bool) -> Result<InstantBetView, ApiError> {
    let view = app
        .engine
        .read(app.engine.shard_of(user), move |s| s.instant().bet_by_id(user, &id).map(|no| bet_view(s, no, replayed)))
        .await?;
    view.ok_or_else(|| ApiError::not_found("BET_NOT_FOUND", "unknown bet"))
}

/// A player's move in an instant game, as HTTP and the WebSocket both receive it: the
/// bet's id (the path's `{id}`) and the request body. One code path answers both.
#[derive(Debug)]
pub enum PlayerAction {
    Bet(InstantBetRequest),
    Reveal { id: String, tile: u8 },
    CashOut { id: String },
    Settle { id: String },
    Act { id: String, step: Option<u8>, action: Action },
}

/// Plays `action` for `user` and answers with the bet's view.
pub async fn perform(app: &AppState, user: UserId, action: PlayerAction) -> Result<InstantBetView, ApiError> {
    match action {
        PlayerAction::Bet(req) => {
            let (currency, stake) = app.money(req.currency.as_deref(), &req.amount)?;
            let id = ext_id("id", &req.id)?;
            let game = params(&req)?;
            let cmd = Command::Instant(InstantCommand::Bet(InstantBet { id, user, currency, stake, game }));
            let Reply::Instant(InstantReply::Bet { replayed, .. }) = app.engine.call(cmd).await? else {
                return Err(ApiError::unavailable("unexpected answer to a bet"));
            };
            view_after(app, user, id, replayed).await
        }
        PlayerAction::Reveal { id, tile } => {
            let id = ext_id("id", &id)?;
            app.engine.call(Command::Instant(InstantCommand::Reveal { user, id, tile })).await?;
            view_after(app, user, id, false).await
        }
        PlayerAction::CashOut { id } => {
            let id = ext_id("id", &id)?;
            app.engine.call(Command::Instant(InstantCommand::CashOut { user, id })).await?;
            view_after(app, user, id, false).await
        }
        PlayerAction::Settle { id } => {
            let id = ext_id("id", &id)?;
            let reply = app.engine.call(Command::Instant(InstantCommand::Settle { user, id })).await?;
            let replayed = matches!(reply, Reply::Instant(InstantReply::Settled { replayed: true, .. }));
            view_after(app, user, id, replayed).await
        }
        PlayerAction::Act { id, step, action } => {
            let id = ext_id("id", &id)?;
            let reply = app.engine.call(Command::Instant(InstantCommand::Act { user, id, step, action })).await?;
            let replayed = matches!(reply, Reply::Instant(InstantReply::Acted { replayed: true, .. }));
            view_after(app, user, id, replayed).await
        }
    }
}

/// The HTTP side of [`perform`]: the token's player.
async fn perform_http(
    app: &AppState,
    headers: &HeaderMap,
    action: PlayerAction,
) -> Result<Json<InstantBetView>, ApiError> {
    let user = app.player(headers)?.user;
    perform(app, user, action).await.map(Json)
}

/// A bet on dice, keno, plinko, mines or blackjack with the player's seeds and next nonce.
/// Dice and keno are decided, settled and paid at once; plinko's outcome is fixed now and paid
/// on `/settle` (or by the sweeper after 20 s); mines starts a game; blackjack deals (and ends
/// at once on a blackjack, or the dealer's when a ten shows).
#[utoipa::path(post, path = "/api/instant/bets", tag = "instant", request_body = InstantBetRequest,
    security(("player_token" = [])),
    responses((status = 200, description = "Placed", body = InstantBetView), ErrorResponses))]
pub async fn bet(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    let user = app.player(&headers)?.user;
    let req: InstantBetRequest = parse_body(&body)?;
    perform(&app, user, PlayerAction::Bet(req)).await.map(Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// The tile, 0 to 24, row by row.
    #[schema(minimum = 0, maximum = 24)]
    pub tile: u8,
}

/// Mines: reveals a tile of the game `id`. A gem raises the multiplier (and the last gem
/// cashes out); a mine ends the game with nothing.
#[utoipa::path(post, path = "/api/instant/bets/{id}/reveal", tag = "instant", request_body = RevealRequest,
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "Revealed", body = InstantBetView), ErrorResponses))]
pub async fn reveal(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    let user = app.player(&headers)?.user;
    let req: RevealRequest = parse_body(&body)?;
    perform(&app, user, PlayerAction::Reveal { id, tile: req.tile }).await.map(Json)
}

/// Mines: cashes out the game `id` at the multiplier of its gems.
#[utoipa::path(post, path = "/api/instant/bets/{id}/cashout", tag = "instant",
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "Cashed out", body = InstantBetView), ErrorResponses))]
pub async fn cash_out(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<InstantBetView>, ApiError> {
    perform_http(&app, &headers, PlayerAction::CashOut { id }).await
}

/// Plinko: the animation of bet `id` ended; credits its payout. Idempotent (`replayed`).
#[utoipa::path(post, path = "/api/instant/bets/{id}/settle", tag = "instant",
    params(("id" = String, Path, description = "The plinko bet's id")), security(("player_token" = [])),
    responses((status = 200, description = "Settled", body = InstantBetView), ErrorResponses))]
pub async fn settle(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<InstantBetView>, ApiError> {
    perform_http(&app, &headers, PlayerAction::Settle { id }).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// The number of actions played before this one (the view's `step`): a retry with the same
    /// step gets the first answer (`replayed`) instead of playing again; another action at a
    /// played step is `IDEMPOTENCY_CONFLICT`, a step not reached `STEP_AHEAD`. Without it the
    /// action applies to the game as it is.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 255)]
    pub step: Option<u8>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsuranceRequest {
    /// Take the insurance (half the stake, pays 2:1 on a dealer's blackjack) or decline it.
    pub take: bool,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 255)]
    pub step: Option<u8>,
}

/// An empty body (or `null`) is no step.
fn action_body(body: &[u8]) -> Result<ActionRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) || body == b"null" {
        return Ok(ActionRequest::default());
    }
    parse_body(body)
}

async fn play(
    app: &AppState,
    headers: &HeaderMap,
    id: &str,
    step: Option<u8>,
    action: Action,
) -> Result<Json<InstantBetView>, ApiError> {
    perform_http(app, headers, PlayerAction::Act { id: id.to_owned(), step, action }).await
}

/// Blackjack: one more card to the hand in play (21 stands by itself, over 21 is bust).
#[utoipa::path(post, path = "/api/instant/bets/{id}/hit", tag = "instant", request_body = ActionRequest,
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "The game", body = InstantBetView), ErrorResponses))]
pub async fn hit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    play(&app, &headers, &id, action_body(&body)?.step, Action::Hit).await
}

/// Blackjack: the hand in play stands; after the last hand the dealer plays and the game is
/// paid.
#[utoipa::path(post, path = "/api/instant/bets/{id}/stand", tag = "instant", request_body = ActionRequest,
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "The game", body = InstantBetView), ErrorResponses))]
pub async fn stand(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    play(&app, &headers, &id, action_body(&body)?.step, Action::Stand).await
}

/// Blackjack: a second stake on the hand in play (its first two cards), one card, and it stands.
#[utoipa::path(post, path = "/api/instant/bets/{id}/double", tag = "instant", request_body = ActionRequest,
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "The game", body = InstantBetView), ErrorResponses))]
pub async fn double(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    play(&app, &headers, &id, action_body(&body)?.step, Action::Double).await
}

/// Blackjack: a pair of one rank becomes two hands for a second stake (once per game; split
/// aces take one card each).
#[utoipa::path(post, path = "/api/instant/bets/{id}/split", tag = "instant", request_body = ActionRequest,
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "The game", body = InstantBetView), ErrorResponses))]
pub async fn split(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    play(&app, &headers, &id, action_body(&body)?.step, Action::Split).await
}

/// Blackjack: the answer to the insurance offered when the dealer shows an ace (before any
/// other action); the dealer then peeks at the hole card.
#[utoipa::path(post, path = "/api/instant/bets/{id}/insurance", tag = "instant", request_body = InsuranceRequest,
    params(("id" = String, Path, description = "The game's bet id")), security(("player_token" = [])),
    responses((status = 200, description = "The game", body = InstantBetView), ErrorResponses))]
pub async fn insurance(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<InstantBetView>, ApiError> {
    let req: InsuranceRequest = parse_body(&body)?;
    play(&app, &headers, &id, req.step, Action::Insurance { take: req.take }).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstantRefundRequest {
    /// Digits (a JSON number or a string), at most 9223372036854775807.
    #[schema(value_type = u64, maximum = 9223372036854775807_u64)]
    pub user_id: Scalar,
    /// The player's bet id.
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstantRefundAnswer {
    /// ROLLED_BACK, or ALREADY_ROLLED_BACK for a repeat (seed 003's rollback answers).
    pub status: String,
    pub bet: InstantBetView,
}

/// The operator refunds an unfinished instant game (mines in play, plinko pending, blackjack
/// in play): every stake it holds goes back to the player and the game is closed. A finished
/// bet is 409 `BET_SETTLED`, an unknown one 404 `BET_NOT_FOUND`; a repeat answers
/// `ALREADY_ROLLED_BACK`.
#[utoipa::path(post, path = "/api/instant/refund", tag = "operator", request_body = InstantRefundRequest,
    security(("operator_signature" = [], "operator_timestamp" = [])),
    responses((status = 200, description = "Refunded", body = InstantRefundAnswer), ErrorResponses))]
pub async fn refund(
    State(app): State<AppState>,
    Signed(req): Signed<InstantRefundRequest>,
) -> Result<Json<InstantRefundAnswer>, ApiError> {
    let user = user_id("user_id", req.user_id.as_str())?;
    let id = ext_id("id", &req.id)?;
    let reply = app.engine.call(Command::Instant(InstantCommand::Refund { user, id })).await?;
    let replayed = matches!(reply, Reply::Instant(InstantReply::Refunded { replayed: true, .. }));
    let bet = view_after(&app, user, id, replayed).await?;
    let status = if replayed { "ALREADY_ROLLED_BACK" } else { "ROLLED_BACK" };
    Ok(Json(InstantRefundAnswer { status: status.into(), bet }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Most bets returned, newest first [default 50, at most 200].
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryAnswer {
    pub bets: Vec<InstantBetView>,
    /// The player's mines game in play, if any, wherever it is in the history: what a page
    /// reloaded in the middle of a game resumes (seed 003's `MINES_CHECK_ACTIVE`).
    pub open_mines: Option<InstantBetView>,
    /// The player's blackjack game in play, if any, likewise: a reloaded page resumes it.
    pub open_blackjack: Option<InstantBetView>,
}

/// The player's instant bets, newest first, each with what verifying it needs (its server
/// seed once revealed by a rotation and its parameters), and the mines and blackjack games in
/// play.
#[utoipa::path(get, path = "/api/me/instant/bets", tag = "instant", params(HistoryQuery),
    security(("player_token" = [])),
    responses((status = 200, description = "History", body = HistoryAnswer), ErrorResponses))]
pub async fn history(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<HistoryAnswer>, ApiError> {
    let user = app.player(&headers)?.user;
    let limit = q.limit.unwrap_or(50).clamp(1, 200) as usize;
    let answer = app
        .engine
        .read(app.engine.shard_of(user), move |s| {
            let inst = s.instant();
            HistoryAnswer {
                bets: inst.bets_of_user(user).take(limit).map(|no| bet_view(s, no, false)).collect(),
                open_mines: inst.player(user).and_then(|p| p.open_mines).map(|no| bet_view(s, no, false)),
                open_blackjack: inst.player(user).and_then(|p| p.open_blackjack).map(|no| bet_view(s, no, false)),
            }
        })
        .await?;
    Ok(Json(answer))
}

// ---- tables and verification ----

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TableView {
    /// keno: picks 1..=10 → multipliers by hits; plinko: one per slot.
    pub name: String,
    pub multipliers: Vec<String>,
    /// Return to player, e.g. "98.9901%".
    pub rtp: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GamesAnswer {
    /// Dice: the edge, and the return of a 49.5 % call.
    pub dice_edge: String,
    pub dice_rtp: String,
    /// Mines: the edge (every cash out returns just under 1 − edge).
    pub mines_edge: String,
    pub keno: Vec<TableView>,
    pub plinko: Vec<TableView>,
}

/// The payout tables in force with their returns to player.
#[utoipa::path(get, path = "/api/instant/games", tag = "instant",
    responses((status = 200, description = "Tables", body = GamesAnswer), ErrorResponses))]
pub async fn games(State(app): State<AppState>) -> Result<Json<GamesAnswer>, ApiError> {
    let config = app.engine.read(0, |s| s.instant().config().cloned()).await?;
    let c = config.ok_or_else(|| ApiError::not_found("UNKNOWN_GAME", "instant games are not configured"))?;
    let pct = |bp: u16| format!("{}.{:02}%", bp / 100, bp % 100);
    let mut keno = Vec::new();
    for t in &c.keno {
        for picks in 1..=10 {
            keno.push(TableView {
                name: format!("{} {picks} picks", t.risk.name()),
                multipliers: t.payouts[picks - 1].iter().map(|m| m.to_string()).collect(),
                rtp: t.rtp(picks).to_string(),
            });
        }
    }
    let plinko = c
        .plinko
        .iter()
        .map(|t| TableView {
            name: format!("{} rows {}", t.rows, t.risk.name()),
            multipliers: t.slots.iter().map(|m| m.to_string()).collect(),
            rtp: t.rtp().to_string(),
        })
        .collect();
    Ok(Json(GamesAnswer {
        dice_edge: pct(c.dice_edge_bp),
        dice_rtp: dice::rtp(4_950, c.dice_edge_bp).to_string(),
        mines_edge: pct(c.mines_edge_bp),
        keno,
        plinko,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub game: GameName,
    /// The revealed server seed as shown (any text: Stake's own seeds verify too).
    pub server_seed: String,
    pub client_seed: String,
    pub nonce: u64,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub over: Option<bool>,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub picks: Option<Vec<u8>>,
    #[serde(default)]
    pub risk: Option<String>,
    #[serde(default)]
    #[schema(minimum = 8, maximum = 16)]
    pub rows: Option<u8>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 24)]
    pub mines: Option<u8>,
    /// Mines: gems revealed before cashing out.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 24)]
    pub gems: Option<u8>,
    /// Blackjack: the actions played in order (hit, stand, double, split, insurance,
    /// no_insurance); the game is replayed from the deal.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub actions: Option<Vec<String>>,
}

/// Blackjack's actions by name.
pub fn parse_actions(names: &[String]) -> Result<Vec<Action>, String> {
    if names.len() > croupier_domain::instant::verify::MAX_ACTIONS {
        return Err("at most 64 actions".into());
    }
    names
        .iter()
        .map(|n| {
            let shown: String = n.chars().take(16).collect();
            Action::from_name(n).ok_or_else(|| format!("unknown action {shown:?}"))
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyAnswer {
    pub game: String,
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    pub outcome: String,
    pub multiplier: Option<String>,
}

/// Verifies any bet from its seeds with Stake's algorithm (the same code as `croupier fair
/// verify`): no token needed, nothing stored.
#[utoipa::path(post, path = "/api/fair/verify", tag = "instant", request_body = VerifyRequest,
    responses((status = 200, description = "Outcome", body = VerifyAnswer), ErrorResponses))]
pub async fn verify(body: Bytes) -> Result<Json<VerifyAnswer>, ApiError> {
    let req: VerifyRequest = parse_body(&body)?;
    let bad = |m: String| ApiError::unprocessable("INVALID_GAME_PARAMS", m);
    if req.server_seed.len() > 256 || req.client_seed.len() > 256 {
        return Err(bad("seeds are at most 256 bytes".into()));
    }
    let as_bet = InstantBetRequest {
        id: String::new(),
        game: req.game,
        amount: String::new(),
        currency: None,
        target: req.target.clone(),
        over: req.over,
        picks: req.picks.clone(),
        risk: req.risk.clone(),
        rows: req.rows,
        mines: req.mines,
    };
    let p = match (req.game, params(&as_bet)?) {
        (_, GameParams::Dice(call)) => BetParams::Dice { call: Some(call), edge_bp: 100 },
        (_, GameParams::Keno { risk, picks }) => BetParams::Keno { risk, picks: Some(picks) },
        (_, GameParams::Plinko { rows, risk }) => BetParams::Plinko { rows, risk },
        (_, GameParams::Mines { mines: count }) => {
            BetParams::Mines { mines: count, gems: req.gems.unwrap_or(0), edge_bp: 100 }
        }
        (_, GameParams::Blackjack) => {
            BetParams::Blackjack { actions: parse_actions(req.actions.as_deref().unwrap_or(&[])).map_err(bad)? }
        }
    };
    let v = verify_bet(&req.server_seed, &req.client_seed, req.nonce, p, None).map_err(|e| bad(e.to_string()))?;
    Ok(Json(VerifyAnswer {
        game: v.game.into(),
        server_seed_hash: v.server_seed_hash,
        client_seed: v.client_seed,
        nonce: v.nonce,
        outcome: v.outcome,
        multiplier: v.multiplier,
    }))
}

// ---- the sweeper ----

/// Once a second, per shard: settles the plinko bets left unconfirmed 20 s and cashes out
/// the mines games idle 5 minutes (seed 003). At most 1,000 per shard per pass; a sweep that
/// lost a race with the player (confirmed meanwhile) is answered as a replay and moves
/// nothing. Ends when the server stops.
pub async fn sweeper(app: AppState) {
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let now = Timestamp(now_ms());
        for shard in 0..app.engine.shards() {
            let due = app
                .engine
                .read(shard, move |s| {
                    let inst = s.instant();
                    inst.open_bets()
                        .filter(|(_, due)| *due <= now)
                        .take(1_000)
                        .map(|(no, _)| {
                            let b = inst.bet(no);
                            (s.account(b.account).user, b.id)
                        })
                        .collect::<Vec<_>>()
                })
                .await;
            let Ok(due) = due else { continue };
            for (user, id) in due {
                // Refusals (not yet due by the engine's clock, a shard stopping) are retried
                // on the next pass.
                let _ = app.engine.call(Command::Instant(InstantCommand::Sweep { user, id })).await;
            }
        }
    }
}
